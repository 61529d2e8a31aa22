"""A steady write load through the gateway, for scripts/fault-runs.sh.

    python3 load.py BASE_URL TOKEN TAG SECONDS RATE OUT.json

POSTs /api/v1/tasks titled `<TAG>-<n>` at RATE requests per second (spread over a few threads)
for SECONDS, and writes each answer (time since start, status, latency, task id) to OUT.json.
A request has 10 s; a timeout or a refused connection counts as status 0.
"""
import json
import sys
import threading
import time
import urllib.error
import urllib.request

base, token, tag, seconds, rate, out = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
THREADS = 8
results = []
lock = threading.Lock()
start = time.monotonic()
counter = iter(range(10**9))


def one(n):
    body = json.dumps({"title": f"{tag}-{n}"}).encode()
    req = urllib.request.Request(
        f"{base}/api/v1/tasks",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    t0 = time.monotonic()
    status, task = 0, None
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            status = res.status
            task = json.load(res).get("id")
    except urllib.error.HTTPError as e:
        status = e.code
    except Exception:
        status = 0
    with lock:
        results.append({"t": round(t0 - start, 3), "w": round(time.time() - (time.monotonic() - t0), 3), "n": n, "status": status, "ms": round((time.monotonic() - t0) * 1000), "id": task})


def worker(k):
    # Request i of this thread is due at start + (i * THREADS + k) / rate.
    i = 0
    while True:
        due = start + (i * THREADS + k) / rate
        if due - start >= seconds:
            return
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        with lock:
            n = next(counter)
        one(n)
        i += 1


threads = [threading.Thread(target=worker, args=(k,)) for k in range(THREADS)]
for t in threads:
    t.start()
for t in threads:
    t.join()
with open(out, "w") as f:
    json.dump(sorted(results, key=lambda r: r["t"]), f)
