"""WebSocket clients through a kill -9, for scripts/fault-runs.sh.

    python3 ws_faults.py GATEWAY_URL SURVIVOR_URL VICTIM_URL SECONDS OUT.json

Two accounts share the public room `faults`. The sender is connected straight to the instance
that survives and says `m-<n>` in the room ten times a second for SECONDS, keeping the id of
each message as the server echoes it back once stored. The reader starts on the instance that
will be killed (straight to it, so that it surely is one of its clients); when its socket dies it
reconnects through the gateway (retrying every 0.2 s), joins again and asks `history` with
`after` = the last id it saw, page by page, as a client following the contract would. At the end:
messages stored, seen live, fetched after the reconnect, missing (stored but never seen by the
reader), and how long the reader was away. Exit status 1 when a stored message is missing.
"""
import asyncio
import json
import sys
import time
import urllib.error
import urllib.request

import websockets

gateway, survivor, victim, seconds, out = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5]
ROOM = "faults"


def call(method, path, body=None, token=None):
    req = urllib.request.Request(f"{gateway}{path}", method=method, data=json.dumps(body).encode() if body else None)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            return json.load(res)
    except urllib.error.HTTPError as e:
        if e.code == 409:  # already registered / room already there: a rerun on the same database
            return None
        raise


def account(name):
    password = "correct horse battery"
    call("POST", "/api/v1/auth/register", {"username": name, "email": f"{name}@example.com", "password": password})
    return call("POST", "/api/v1/auth/login", {"email": f"{name}@example.com", "password": password})["access_token"]


def ws_url(base, token):
    return base.replace("http://", "ws://", 1) + f"/api/v1/ws?token={token}"


async def sender(token, stored, done):
    async with websockets.connect(ws_url(survivor, token), max_size=2**20) as ws:
        await ws.send(json.dumps({"type": "join", "room": ROOM}))

        async def read():
            async for frame in ws:
                event = json.loads(frame)
                if event["type"] == "chat.message" and event["data"]["content"].startswith("m-"):
                    stored.add(event["data"]["id"])

        reading = asyncio.create_task(read())
        start, n = time.monotonic(), 0
        while time.monotonic() - start < seconds:
            await ws.send(json.dumps({"type": "message", "room": ROOM, "content": f"m-{n}"}))
            n += 1
            await asyncio.sleep(0.1)
        await asyncio.sleep(2)  # the last echoes
        reading.cancel()
        done.set()
        return n


async def reader(token, seen, fetched, gaps, done):
    base, last = victim, 0
    while not done.is_set():
        try:
            async with websockets.connect(ws_url(base, token), max_size=2**20, open_timeout=2) as ws:
                await ws.send(json.dumps({"type": "join", "room": ROOM}))
                if gaps and gaps[-1].get("back") is None:
                    gaps[-1]["back"] = time.monotonic()
                    # What was said while away, oldest first, a page at a time.
                    while True:
                        await ws.send(json.dumps({"type": "history", "room": ROOM, "after": last, "limit": 100}))
                        page = await history_answer(ws, seen)
                        for m in page:
                            fetched.add(m["id"])
                            last = max(last, m["id"])
                        if len(page) < 100:
                            break
                while not done.is_set():
                    try:
                        frame = await asyncio.wait_for(ws.recv(), 0.5)
                    except asyncio.TimeoutError:
                        continue
                    event = json.loads(frame)
                    if event["type"] == "chat.message" and event["data"]["content"].startswith("m-"):
                        seen.add(event["data"]["id"])
                        last = max(last, event["data"]["id"])
        except (OSError, websockets.exceptions.WebSocketException, asyncio.TimeoutError):
            if not gaps or gaps[-1].get("back") is not None:
                gaps.append({"lost": time.monotonic(), "back": None})
            base = gateway
            await asyncio.sleep(0.2)


async def history_answer(ws, seen):
    """The next `history` event; live messages arriving meanwhile still count as seen."""
    while True:
        event = json.loads(await ws.recv())
        if event["type"] == "history":
            return event["data"]["messages"]
        if event["type"] == "chat.message" and event["data"]["content"].startswith("m-"):
            seen.add(event["data"]["id"])


async def main():
    sender_token, reader_token = account("ws-sender"), account("ws-reader")
    call("POST", "/api/v1/chat/rooms", {"name": ROOM}, sender_token)
    stored, seen, fetched, gaps, done = set(), set(), set(), [], asyncio.Event()
    read = asyncio.create_task(reader(reader_token, seen, fetched, gaps, done))
    await asyncio.sleep(0.5)
    sent = await sender(sender_token, stored, done)
    await read
    missing = stored - seen - fetched
    away = [round(g["back"] - g["lost"], 2) for g in gaps if g.get("back") is not None]
    result = {
        "sent": sent,
        "stored": len(stored),
        "seen_live": len(seen & stored),
        "fetched_after_reconnect": len(fetched - seen),
        "missing": len(missing),
        "reconnects": len(away),
        "away_s": away,
        "unrecovered": sum(1 for g in gaps if g.get("back") is None),
    }
    json.dump(result, open(out, "w"))
    print(json.dumps(result))
    return 1 if missing or result["unrecovered"] else 0


sys.exit(asyncio.run(main()))
