#!/usr/bin/env python3
"""make bench-caldav: Workbench's CalDAV side by side with Radicale 3 and Xandikos, the two
CalDAV servers people self-host, on the same machine, over loopback, with the same client.

    scripts/bench-caldav.py [--url URL --user USER --token TOKEN [--rest REST_BASE] | --serve BIN]
                            [-n 1000 | --sizes 1000,100000] [--anchors-max 1000]
                            [--anchors radicale,xandikos] [--puts 200] [--out FILE] [--cleanup]

Workbench is taken from the options or from WORKBENCH_URL (its base URL, e.g.
http://127.0.0.1:8080), WORKBENCH_USER (username or e-mail), WORKBENCH_TOKEN (a personal access
token with tasks:read and tasks:write) and WORKBENCH_REST (the REST base, e.g.
http://127.0.0.1:8080/api/v1, for the REST create figure); or `--serve target/release/workbench`
starts that binary here (SQLite in a temporary directory, or --database-url / BENCH_DATABASE_URL
for PostgreSQL; rate limits off), signs up a user and makes its token. Without either, only the
anchors run.
Radicale and Xandikos are started here (from the venv that has tests/caldav/requirements.txt:
CALDAV_PYTHON or target/caldav-venv, else PATH), each on a free loopback port with a temporary
storage directory and no authentication, and stopped on exit, Ctrl-C included.

On each server a VTODO calendar is filled to each size (PUT in a loop, one keep-alive session;
progress every 10,000) and measured with one persistent requests.Session:
  PUT p50        200 PUTs of new UIDs (If-None-Match: *), p50; they are deleted afterwards
  initial sync   REPORT sync-collection with an empty token, every href + ETag; median of 5
                 (and of it, the answer: sent, answered and read, before the client parses it)
  multiget       calendar-multiget of every object in batches of 500, total; median of 3 runs
                 after a first one, which is shown too (caches cold)
  incr. sync     change 10 todos, then sync-collection from the last token; median of 5
  REST create    Workbench only: POST /api/v1/tasks, p50 over as many as PUTs; deleted afterwards
The anchors run only at sizes <= --anchors-max (default 1000: Radicale takes minutes per 10,000
PUTs). One markdown table is printed (and written to --out, default target/bench/caldav.md), with
Workbench's time divided by the faster anchor's at the same size (or the anchors' largest).
Radicale's built-in server speaks HTTP/1.0, so it closes every connection: that is how it runs.
At the anchors' sizes, the initial sync is measured once more against a stub that answers at once
with Workbench's recorded listing: the client's own cost, below which no server can be measured.
"""

import argparse
import atexit
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def ensure_deps():
    try:
        __import__("lxml")
        __import__("requests")
        return
    except ImportError:
        pass
    if os.environ.get("CALDAV_REEXEC") != "1":
        for cand in (os.environ.get("CALDAV_PYTHON"), os.path.join(REPO, "target", "caldav-venv", "bin", "python")):
            if cand and os.path.isfile(cand) and os.path.abspath(cand) != os.path.abspath(sys.executable):
                os.environ["CALDAV_REEXEC"] = "1"
                os.execv(cand, [cand] + sys.argv)
    sys.exit("error: this needs requests and lxml (and radicale, xandikos for the anchors):\n"
             "  python3 -m venv target/caldav-venv && target/caldav-venv/bin/pip install -r tests/caldav/requirements.txt")


ensure_deps()

import requests  # noqa: E402
from lxml import etree  # noqa: E402

NS = {"d": "DAV:", "c": "urn:ietf:params:xml:ns:caldav"}
ICS_CT = {"Content-Type": "text/calendar; charset=utf-8"}
XML_CT = {"Content-Type": "application/xml; charset=utf-8"}
PROCS = []  # (name, Popen) started here; stopped at exit


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def tool(name):
    beside = os.path.join(os.path.dirname(sys.executable), name)
    if os.path.isfile(beside) and os.access(beside, os.X_OK):
        return beside
    found = shutil.which(name)
    if not found:
        sys.exit("error: `%s` not found beside %s nor on PATH; install the anchors with\n"
                 "  python3 -m venv target/caldav-venv && target/caldav-venv/bin/pip install -r tests/caldav/requirements.txt\n"
                 "(or run with --anchors none)" % (name, sys.executable))
    return found


def stop_all():
    for name, p in PROCS:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
    deadline = time.time() + 5
    for name, p in PROCS:
        try:
            p.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
    PROCS.clear()


def on_signal(signum, frame):
    stop_all()
    sys.exit(128 + signum)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def version_of(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        m = re.search(r"\d+\.\d+[\w.]*", out.stdout + out.stderr)
        return m.group(0) if m else "?"
    except Exception:  # noqa: BLE001
        return "?"


def start(name, cmd, port, logfile):
    lf = open(logfile, "w")
    p = subprocess.Popen(cmd, stdout=lf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    PROCS.append((name, p))
    deadline = time.time() + 60
    while time.time() < deadline:
        if p.poll() is not None:
            lf.close()
            sys.exit("error: %s exited (%s) on start:\n%s" % (name, p.returncode, open(logfile).read()[-3000:]))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return p
        except OSError:
            time.sleep(0.2)
    sys.exit("error: %s did not listen on 127.0.0.1:%d within 60 s:\n%s" % (name, port, open(logfile).read()[-3000:]))


def mkcalendar(session, url):
    body = ('<?xml version="1.0" encoding="utf-8"?><c:mkcalendar xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">'
            "<d:set><d:prop><d:displayname>Tasks</d:displayname><c:supported-calendar-component-set>"
            '<c:comp name="VTODO"/></c:supported-calendar-component-set></d:prop></d:set></c:mkcalendar>')
    r = session.request("MKCALENDAR", url, data=body, headers=XML_CT)
    if r.status_code not in (201, 405):  # 405: exists already
        sys.exit("error: MKCALENDAR %s -> %s %s" % (url, r.status_code, r.text[:300]))


class Server:
    def __init__(self, name, cal_url, session, rest=None):
        self.name, self.cal_url, self.s, self.rest = name, cal_url, session, rest
        from urllib.parse import urlsplit

        u = urlsplit(cal_url)
        self.origin = "%s://%s" % (u.scheme, u.netloc)
        self.cal_path = u.path


def start_radicale(tmp):
    port = free_port()
    d = os.path.join(tmp, "radicale")
    os.makedirs(d)
    start("Radicale", [tool("radicale"), "--config", "", "--server-hosts", "127.0.0.1:%d" % port,
                       "--auth-type", "none", "--storage-filesystem-folder", os.path.join(d, "collections"),
                       "--logging-level", "warning"], port, os.path.join(d, "log"))
    s = requests.Session()
    s.auth = ("bench", "bench")  # no authentication: the login only names the owner
    url = "http://127.0.0.1:%d/bench/tasks/" % port
    mkcalendar(s, url)
    srv = Server("Radicale", url, s)
    srv.version = version_of([tool("radicale"), "--version"])
    return srv


def start_xandikos(tmp):
    port = free_port()
    d = os.path.join(tmp, "xandikos")
    os.makedirs(d)
    start("Xandikos", [tool("xandikos"), "serve", "-d", os.path.join(d, "data"), "--defaults", "--no-detect-systemd",
                       "-l", "127.0.0.1", "-p", str(port)], port, os.path.join(d, "log"))
    s = requests.Session()
    url = "http://127.0.0.1:%d/user/calendars/tasks/" % port
    mkcalendar(s, url)
    srv = Server("Xandikos", url, s)
    srv.version = version_of([tool("xandikos"), "--version"])
    return srv


def propfind_href(session, url, prop_xml, tag):
    body = ('<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">'
            "<d:prop>%s</d:prop></d:propfind>" % prop_xml)
    r = session.request("PROPFIND", url, data=body, headers=dict(XML_CT, Depth="0"))
    if r.status_code != 207:
        return None, r
    el = etree.fromstring(r.content).find(".//%s/d:href" % tag, NS)
    return (el.text.strip() if el is not None else None), r


def connect_workbench(url, user, token, rest):
    """Find the personal tasks calendar from the base URL, as a client would."""
    from urllib.parse import urljoin, urlsplit

    s = requests.Session()
    s.auth = (user, token)
    base = url.rstrip("/") + "/"
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(base))
    principal, r = propfind_href(s, base, "<d:current-user-principal/>", "d:current-user-principal")
    if not principal:
        r2 = s.request("PROPFIND", origin + "/.well-known/caldav", headers=dict(XML_CT, Depth="0"), allow_redirects=False)
        if r2.status_code in (401, 403):
            sys.exit("error: Workbench refused %s's token (%s): check WORKBENCH_USER/WORKBENCH_TOKEN" % (user, r2.status_code))
        root = urljoin(origin + "/", r2.headers.get("Location", "/dav/"))
        principal, r = propfind_href(s, root, "<d:current-user-principal/>", "d:current-user-principal")
    if not principal:
        sys.exit("error: no current-user-principal at %s (%s %s)" % (url, r.status_code, r.text[:200]))
    home, r = propfind_href(s, urljoin(origin, principal), "<c:calendar-home-set/>", "c:calendar-home-set")
    if not home:
        sys.exit("error: the principal %s has no calendar-home-set (%s)" % (principal, r.status_code))
    cal = urljoin(origin, home).rstrip("/") + "/tasks/"
    r = s.request("PROPFIND", cal, headers=dict(XML_CT, Depth="0"))
    if r.status_code != 207:
        sys.exit("error: PROPFIND %s -> %s" % (cal, r.status_code))
    rs = None
    if rest:
        rest = rest.rstrip("/")
        if not rest.endswith("/api/v1"):
            rest += "/api/v1"
        rs = requests.Session()
        rs.headers["Authorization"] = "Bearer " + token
        rs.base = rest
    return Server("Workbench", cal, s, rs)


def serve_workbench(binary, database_url):
    """Start `binary serve` on a free port (rate limits off: one client from one address, as in
    make bench), sign up a user and make a personal access token; (url, user, token, rest)."""
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        sys.exit("error: %s is not an executable workbench binary (cargo build --release -p workbench-app)" % binary)
    port = free_port()
    work = tempfile.mkdtemp(prefix="bench-caldav-wb-")
    atexit.register(shutil.rmtree, work, True)
    env = dict(os.environ, WORKBENCH_CONFIG=os.path.join(work, "none.toml"), DATA_DIR=os.path.join(work, "data"),
               DATABASE_URL=database_url or "", BIND_ADDR="127.0.0.1:%d" % port, BCRYPT_COST="4",
               JWT_SECRET="bench-secret-bench-secret-bench-secret", ACCESS_TOKEN_TTL="1h",
               RATE_LIMIT_PER_MINUTE="0", RATE_LIMIT_AUTH_PER_MINUTE="0", LOG_FORMAT="json", RUST_LOG="warn")
    logfile = os.path.join(REPO, "target", "bench", "server-caldav.log")
    os.makedirs(os.path.dirname(logfile), exist_ok=True)
    lf = open(logfile, "w")
    p = subprocess.Popen([os.path.abspath(binary), "serve"], env=env, stdout=lf, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, start_new_session=True, cwd=work)
    PROCS.append(("Workbench", p))
    base = "http://127.0.0.1:%d" % port
    for _ in range(600):
        if p.poll() is not None:
            sys.exit("error: workbench exited (%s) on start; %s:\n%s" % (p.returncode, logfile, open(logfile).read()[-3000:]))
        try:
            if requests.get(base + "/health", timeout=1).status_code == 200:
                break
        except requests.RequestException:
            pass
        time.sleep(0.1)
    else:
        sys.exit("error: workbench did not answer /health within 60 s; see %s" % logfile)
    api = base + "/api/v1"
    user, email, password = "caldavbench", "caldavbench@example.com", "caldav-bench-password"
    r = requests.post(api + "/auth/register", json={"username": user, "email": email, "password": password})
    if r.status_code != 201:
        sys.exit("error: sign-up -> %s %s" % (r.status_code, r.text[:300]))
    r = requests.post(api + "/auth/login", json={"email": email, "password": password})
    if r.status_code != 200:
        sys.exit("error: login -> %s %s" % (r.status_code, r.text[:300]))
    jwt = r.json()["access_token"]
    r = requests.post(api + "/tokens", headers={"Authorization": "Bearer " + jwt},
                      json={"name": "caldav bench", "scopes": ["tasks:read", "tasks:write", "projects:read"],
                            "password": password})
    if r.status_code != 201:
        sys.exit("error: POST /tokens -> %s %s" % (r.status_code, r.text[:300]))
    log("Workbench %s serving at %s (%s), log %s" % (binary, base, "PostgreSQL" if database_url else "SQLite",
                                                     os.path.relpath(logfile, os.getcwd())))
    return base + "/", user, r.json()["token"], api


# ------------------------------------------------------------------------------------------------


def vtodo(uid, n, summary=None):
    return "\r\n".join([
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Workbench//bench-caldav//EN", "BEGIN:VTODO",
        "UID:" + uid, "DTSTAMP:20260101T000000Z", "CREATED:20260101T000000Z",
        "SUMMARY:" + (summary or "Benchmark task %d: water the plants and file the report" % n),
        "DESCRIPTION:Filled by scripts/bench-caldav.py. A line of text as a real task has\\, "
        "with an escaped comma and a second sentence.",
        "STATUS:NEEDS-ACTION", "PRIORITY:%d" % (1 + n % 9), "DUE:2030%02d%02dT090000Z" % (1 + n % 12, 1 + n % 28),
        "CATEGORIES:bench,tag%d" % (n % 7),
        "END:VTODO", "END:VCALENDAR", ""])


def request(srv, method, url, expect, retries=20, **kw):
    for _ in range(retries):
        r = srv.s.request(method, url, **kw)
        if r.status_code == 429:
            time.sleep(float(r.headers.get("Retry-After", "1") or 1))
            continue
        if r.status_code not in expect:
            raise SystemExit("error: %s: %s %s -> %s %s" % (srv.name, method, url, r.status_code, r.text[:300]))
        return r
    raise SystemExit("error: %s: still rate limited (429) after %d tries: %s %s" % (srv.name, retries, method, url))


def sync_report(srv, token):
    body = ('<?xml version="1.0" encoding="utf-8"?><d:sync-collection xmlns:d="DAV:"><d:sync-token>%s</d:sync-token>'
            "<d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>" % (token or ""))
    return request(srv, "REPORT", srv.cal_url, (207,), data=body, headers=XML_CT)


def parse_sync(content):
    root = etree.fromstring(content)
    members, removed, truncated = {}, set(), False
    for resp in root.findall("d:response", NS):
        href = resp.findtext("d:href", namespaces=NS).strip()
        st = resp.findtext("d:status", namespaces=NS)
        if st and " 507 " in st:
            truncated = True
        elif st and " 404 " in st:
            removed.add(href)
        else:
            members[href] = resp.findtext(".//d:getetag", namespaces=NS)
    return members, removed, root.findtext("d:sync-token", namespaces=NS), truncated


def full_sync(srv, answers=None):
    """Every href and ETag from an empty token, following truncated answers. (members, token, seconds);
    the seconds spent waiting for the answers (sent, answered and read, not parsed) are added to
    answers[0] when given."""
    t0 = time.perf_counter()
    members, token = {}, ""
    for _ in range(100000):
        t1 = time.perf_counter()
        r = sync_report(srv, token)
        content = r.content
        if answers is not None:
            answers[0] += time.perf_counter() - t1
        m, removed, token, truncated = parse_sync(content)
        members.update(m)
        if not truncated:
            break
    return members, token, time.perf_counter() - t0


def fill(srv, target, run, counter):
    members, token, _ = full_sync(srv)
    have = len(members)
    todo = target - have
    if todo <= 0:
        log("  %s: %d objects already (wanted %d)" % (srv.name, have, target))
        return
    log("  %s: filling %d -> %d" % (srv.name, have, target))
    t0 = time.perf_counter()
    for i in range(todo):
        n = counter[0]
        counter[0] += 1
        uid = "bench-%s-%d" % (run, n)
        request(srv, "PUT", srv.cal_url + uid + ".ics", (200, 201, 204), data=vtodo(uid, n).encode(),
                headers=dict(ICS_CT, **{"If-None-Match": "*"}))
        done = i + 1
        if done % 10000 == 0:
            el = time.perf_counter() - t0
            log("    %s: %d/%d PUTs, %.0f/s, %.0f s left" % (srv.name, done, todo, done / el, (todo - done) / (done / el)))
    log("  %s: %d PUTs in %.1f s" % (srv.name, todo, time.perf_counter() - t0))


class InstantStub:
    """A loopback HTTP/1.1 server that answers every request at once with the same recorded body:
    what the client alone costs, for a server that took no time at all."""

    def __init__(self, body):
        import threading

        self.reply = (b"HTTP/1.1 207 Multi-Status\r\nContent-Type: application/xml; charset=utf-8\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(body)) + body
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = "http://127.0.0.1:%d/stub/" % self.sock.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            buf = b""
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                buf += data
                while b"\r\n\r\n" in buf:
                    head, rest = buf.split(b"\r\n\r\n", 1)
                    m = re.search(rb"(?i)content-length:\s*(\d+)", head)
                    need = int(m.group(1)) if m else 0
                    if len(rest) < need:
                        break
                    buf = rest[need:]
                    conn.sendall(self.reply)
            conn.close()


def client_floor(srv):
    """The initial sync measured as for a server, against an InstantStub replaying srv's listing
    (one answer, not truncated): the client's own cost. (ms, answer ms)"""
    body = sync_report(srv, "").content
    stub = InstantStub(body)
    session = requests.Session()
    fake = Server("client alone", stub.url, session)
    runs, answered = [], []
    for _ in range(6):
        answers = [0.0]
        _, _, dt = full_sync(fake, answers)
        runs.append(dt)
        answered.append(answers[0])
    stub.sock.close()
    return statistics.median(runs[1:]) * 1000, statistics.median(answered[1:]) * 1000


def measure(srv, size, puts, run):
    out = {}
    # PUT: new UIDs, p50; then removed (untimed) so that the calendar keeps its size
    times, made = [], []
    for i in range(puts + 1):
        uid = "bench-put-%s-%d-%d" % (run, size, i)
        url = srv.cal_url + uid + ".ics"
        body = vtodo(uid, i).encode()
        t0 = time.perf_counter()
        request(srv, "PUT", url, (200, 201, 204), data=body, headers=dict(ICS_CT, **{"If-None-Match": "*"}))
        dt = time.perf_counter() - t0
        if i:  # the first one warms up
            times.append(dt)
        made.append(url)
    out["put"] = statistics.median(times) * 1000
    for url in made:
        request(srv, "DELETE", url, (200, 204))

    # initial sync
    runs, answered = [], []
    members = None
    for _ in range(6):
        answers = [0.0]
        members, token, dt = full_sync(srv, answers)
        runs.append(dt)
        answered.append(answers[0])
    out["sync"] = statistics.median(runs[1:]) * 1000
    out["sync_answer"] = statistics.median(answered[1:]) * 1000
    out["size"] = len(members)

    # multiget of everything, batches of 500
    hrefs = sorted(members)
    runs = []
    for k in range(4):
        t0 = time.perf_counter()
        got = 0
        for b in range(0, len(hrefs), 500):
            body = ('<?xml version="1.0" encoding="utf-8"?><c:calendar-multiget xmlns:d="DAV:" '
                    'xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/><c:calendar-data/></d:prop>%s'
                    "</c:calendar-multiget>" % "".join("<d:href>%s</d:href>" % h for h in hrefs[b:b + 500]))
            r = request(srv, "REPORT", srv.cal_url, (207,), data=body, headers=dict(XML_CT, Depth="1"))
            got += r.content.count(b"BEGIN:VTODO")
        dt = time.perf_counter() - t0
        if got != len(hrefs):
            raise SystemExit("error: %s: multiget returned %d of %d objects" % (srv.name, got, len(hrefs)))
        if k:
            runs.append(dt)
        else:
            out["multiget_first"] = dt * 1000
    out["multiget"] = statistics.median(runs) * 1000

    # incremental sync after 10 changes
    _, token, _ = full_sync(srv)
    runs = []
    rnd = random.Random(size)
    for k in range(6):
        changed = rnd.sample(hrefs, 10)
        for h in changed:  # untimed: read the object, change its SUMMARY, write it back
            body = request(srv, "GET", srv.origin + h, (200,)).text
            body = re.sub(r"(?m)^SUMMARY[;:].*?(\r?)$", lambda m: "SUMMARY:Changed %s%s" % (uuid.uuid4().hex, m.group(1)),
                          body, count=1)
            request(srv, "PUT", srv.origin + h, (200, 201, 204), data=body.encode(), headers=ICS_CT)
        t0 = time.perf_counter()
        r = sync_report(srv, token)
        dt = time.perf_counter() - t0
        m, removed, token, truncated = parse_sync(r.content)
        want = {h for h in changed}
        got = set(m)
        if not want <= got:
            raise SystemExit("error: %s: incremental sync missed %s" % (srv.name, sorted(want - got)[:3]))
        if len(got) > 10 + 5:
            log("  note: %s's incremental sync reported %d members for 10 changes" % (srv.name, len(got)))
        if k:
            runs.append(dt)
    out["incr"] = statistics.median(runs) * 1000

    # REST create (Workbench)
    if srv.rest is not None:
        times, ids = [], []
        for i in range(puts + 1):
            t0 = time.perf_counter()
            r = srv.rest.post(srv.rest.base + "/tasks", json={"title": "bench REST %s %d" % (run, i), "priority": "medium"})
            dt = time.perf_counter() - t0
            if r.status_code == 429:
                time.sleep(float(r.headers.get("Retry-After", "1") or 1))
                continue
            if r.status_code != 201:
                raise SystemExit("error: POST /tasks -> %s %s" % (r.status_code, r.text[:300]))
            ids.append(r.json()["id"])
            if i:
                times.append(dt)
        out["rest"] = statistics.median(times) * 1000
        for tid in ids:
            srv.rest.delete(srv.rest.base + "/tasks/%d" % tid)
    return out


def fmt(v):
    if v is None:
        return "–"
    return "%.1f" % v if v < 100 else "%.0f" % v


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=os.environ.get("WORKBENCH_URL"))
    ap.add_argument("--user", default=os.environ.get("WORKBENCH_USER"))
    ap.add_argument("--token", default=os.environ.get("WORKBENCH_TOKEN"))
    ap.add_argument("--rest", default=os.environ.get("WORKBENCH_REST"))
    ap.add_argument("--serve", metavar="BIN", help="start this workbench binary here (a fresh SQLite database, or "
                    "--database-url), sign up a user and make its token, instead of --url/--user/--token")
    ap.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"),
                    help="with --serve: a PostgreSQL database to serve from (default: SQLite in a temporary directory)")
    ap.add_argument("-n", type=int, default=None, help="one size (default 1000)")
    ap.add_argument("--sizes", default=None, help="comma list of sizes, e.g. 1000,100000")
    ap.add_argument("--anchors-max", type=int, default=1000, help="largest size the anchors are filled to")
    ap.add_argument("--anchors", default="radicale,xandikos", help="radicale,xandikos | radicale | xandikos | none")
    ap.add_argument("--puts", type=int, default=200)
    ap.add_argument("--out", default=os.path.join(REPO, "target", "bench", "caldav.md"))
    ap.add_argument("--cleanup", action="store_true", help="delete the todos filled into Workbench at the end")
    a = ap.parse_args()

    sizes = [int(x.replace("_", "")) for x in a.sizes.split(",")] if a.sizes else [a.n or 1000]
    sizes.sort()
    anchors = [x.strip().lower() for x in a.anchors.split(",") if x.strip() and x.strip().lower() != "none"]
    for x in anchors:
        if x not in ("radicale", "xandikos"):
            sys.exit("error: unknown anchor %r" % x)
    if a.serve:
        atexit.register(stop_all)
        a.url, a.user, a.token, a.rest = serve_workbench(a.serve, a.database_url)
    if a.url and not (a.user and a.token):
        sys.exit("error: --url needs --user and --token (or WORKBENCH_USER, WORKBENCH_TOKEN)")
    if not a.url and not anchors:
        sys.exit("error: nothing to measure: give Workbench (--url/WORKBENCH_URL) or an anchor")

    atexit.register(stop_all)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    tmp = tempfile.mkdtemp(prefix="bench-caldav-")
    atexit.register(shutil.rmtree, tmp, True)
    run = uuid.uuid4().hex[:8]

    servers = []
    for x in anchors:
        srv = start_radicale(tmp) if x == "radicale" else start_xandikos(tmp)
        log("%s at %s" % (srv.name, srv.cal_url))
        servers.append(srv)
    if a.url:
        wb = connect_workbench(a.url, a.user, a.token, a.rest)
        log("Workbench at %s%s" % (wb.cal_url, " (REST %s)" % wb.rest.base if wb.rest else ""))
        servers.append(wb)

    results = []  # (server, size, figures)
    floors = []  # (size, initial sync ms, of which the answer ms) of the client against an instant stub
    counter = {s.name: [0] for s in servers}
    try:
        for size in sizes:
            for srv in servers:
                if srv.name != "Workbench" and size > a.anchors_max:
                    continue
                log("%s at %d todos" % (srv.name, size))
                fill(srv, size, run, counter[srv.name])
                t0 = time.perf_counter()
                fig = measure(srv, size, a.puts, run)
                log("  measured in %.1f s: %s" % (time.perf_counter() - t0, {k: round(v, 2) for k, v in fig.items()}))
                results.append((srv.name, size, fig))
                if srv.name == "Workbench" and size <= a.anchors_max:
                    sync_ms, answer_ms = client_floor(srv)
                    floors.append((size, sync_ms, answer_ms))
    finally:
        if a.cleanup and a.url:
            srv = [s for s in servers if s.name == "Workbench"][0]
            members, _, _ = full_sync(srv)
            gone = 0
            for h in members:
                if "/bench-%s-" % run in h or "/bench-put-%s-" % run in h:
                    request(srv, "DELETE", srv.origin + h, (200, 204, 404))
                    gone += 1
            log("Workbench: deleted the %d todos filled by this run" % gone)

    metrics = [("put", "PUT p50 ms"), ("sync", "initial sync ms"), ("sync_answer", "of which the answer ms"),
               ("multiget", "multiget ms"), ("multiget_first", "first multiget ms"),
               ("incr", "incremental sync ms"), ("rest", "REST create p50 ms")]
    lines = ["| server | size | " + " | ".join(m[1] for m in metrics) + " |",
             "|---|---:|" + "---:|" * len(metrics)]
    for name, size, fig in results:
        shown = "%d" % fig["size"] if fig["size"] == size else "%d (asked %d)" % (fig["size"], size)
        lines.append("| %s | %s | %s |" % (name, shown, " | ".join(fmt(fig.get(k)) for k, _ in metrics)))
    anchor_sizes = sorted({size for name, size, _ in results if name != "Workbench"})
    for name, size, fig in results:
        if name != "Workbench" or not anchor_sizes:
            continue
        ref_size = max([s for s in anchor_sizes if s <= size] or anchor_sizes[:1])
        refs = [f for n, s, f in results if n != "Workbench" and s == ref_size]
        cells = []
        for k, _ in metrics:
            best = min((f[k] for f in refs if k in f), default=None)
            if best and fig.get(k) is not None:
                cells.append("%.2f×" % (fig[k] / best))
            else:
                cells.append("–")
        lines.append("| Workbench ÷ faster anchor%s | %d | %s |" % (
            "" if ref_size == size else " (anchors at %d)" % ref_size, fig["size"], " | ".join(cells)))
    table = "\n".join(lines)
    wbs = [(size, fig) for name, size, fig in results if name == "Workbench"]
    note = ""
    if len(wbs) > 1:
        small, large = wbs[0], wbs[-1]
        note = ("\nWorkbench's incremental sync of 10 changes: %.1f ms at %d todos, %.1f ms at %d (%.2f×).\n"
                % (small[1]["incr"], small[1]["size"], large[1]["incr"], large[1]["size"], large[1]["incr"] / small[1]["incr"]))
    for size, sync_ms, answer_ms in floors:
        note += ("\nThe client alone, against a stub that answers at once with Workbench's listing of %d: initial sync "
                 "%.1f ms, of which the answer %.1f ms: no server can be measured faster than that here.\n"
                 % (size, sync_ms, answer_ms))
    head = ("CalDAV on loopback, one keep-alive requests.Session per server (Radicale's HTTP/1.0 server closes "
            "each connection), %d PUTs for the p50, times in milliseconds; a ratio below 1 means Workbench is "
            "faster. %s%s, Python %s, %d cores.\n\n" % (
                a.puts, "".join("%s %s, " % (s.name, s.version) for s in servers if getattr(s, "version", None)),
                time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), sys.version.split()[0], os.cpu_count() or 0))
    print(head.strip() + "\n")
    print(table)
    if note:
        print(note.strip())
    if a.out:
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
        with open(a.out, "w") as f:
            f.write("# CalDAV: Workbench beside Radicale and Xandikos\n\n" + head + table + "\n" + note)
        log("written to %s" % os.path.relpath(a.out, os.getcwd()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
