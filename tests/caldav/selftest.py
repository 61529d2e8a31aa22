#!/usr/bin/env python3
"""The CalDAV client checks against the reference servers, so that the clients' side is known to
be right before Workbench is blamed: Radicale 3 (HTTP Basic against an htpasswd file, the token as
the password) for caldav_library.py and vdirsyncer_todoman.py, and Xandikos (no authentication)
for caldav_library.py --no-auth-check. Each server runs on a free loopback port with a temporary
storage directory and is stopped on exit. Checks that the anchors fail for reasons of their own
(a VEVENT stored in a VTODO-only calendar, removed members in an initial sync, DAV:limit) pass
as "tolerated" here; against Workbench (REST_BASE given) they are strict.

    python3 tests/caldav/selftest.py [radicale] [xandikos]     (default: both)
"""

import atexit
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import HERE, ensure_deps, tool_path  # noqa: E402

ensure_deps(["caldav", "requests", "vdirsyncer", "todoman", "radicale", "xandikos"])

import requests  # noqa: E402

PROCS = []
USER, TOKEN = "alice", "wbp_selftest0123456789abcdefghijklmnopqrstuvwxyzABCD"


def stop_all():
    for p in PROCS:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    for p in PROCS:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(name, cmd, port, logfile):
    exe = tool_path(cmd[0])
    if not exe:
        sys.exit("error: %s not found (pip install -r tests/caldav/requirements.txt)" % cmd[0])
    p = subprocess.Popen([exe] + cmd[1:], stdout=open(logfile, "w"), stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, start_new_session=True)
    PROCS.append(p)
    for _ in range(300):
        if p.poll() is not None:
            sys.exit("error: %s exited on start:\n%s" % (name, open(logfile).read()[-2000:]))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    sys.exit("error: %s does not listen" % name)


def mkcalendar(url, auth=None):
    body = ('<?xml version="1.0" encoding="utf-8"?><c:mkcalendar xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">'
            "<d:set><d:prop><d:displayname>Tasks</d:displayname><c:supported-calendar-component-set>"
            '<c:comp name="VTODO"/></c:supported-calendar-component-set></d:prop></d:set></c:mkcalendar>')
    r = requests.request("MKCALENDAR", url, data=body, auth=auth, headers={"Content-Type": "application/xml"})
    assert r.status_code == 201, "MKCALENDAR %s -> %s" % (url, r.status_code)


def main():
    which = sys.argv[1:] or ["radicale", "xandikos"]
    atexit.register(stop_all)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tmp = tempfile.mkdtemp(prefix="caldav-selftest-")
    runs = []
    if "radicale" in which:
        port = free_port()
        with open(os.path.join(tmp, "htpasswd"), "w") as f:
            f.write("%s:%s\n" % (USER, TOKEN))
        start("Radicale", ["radicale", "--config", "", "--server-hosts", "127.0.0.1:%d" % port,
                           "--auth-type", "htpasswd", "--auth-htpasswd-filename", os.path.join(tmp, "htpasswd"),
                           "--auth-htpasswd-encryption", "plain", "--auth-delay", "0",
                           "--storage-filesystem-folder", os.path.join(tmp, "radicale"), "--logging-level", "warning"],
              port, os.path.join(tmp, "radicale.log"))
        url = "http://127.0.0.1:%d/" % port
        mkcalendar(url + USER + "/tasks/", auth=(USER, TOKEN))
        runs.append(("caldav_library.py on Radicale", ["caldav_library.py", url, USER, TOKEN,
                                                       "--account-password", "the-account-password"]))
        runs.append(("vdirsyncer_todoman.py on Radicale", ["vdirsyncer_todoman.py", url, USER, TOKEN]))
    if "xandikos" in which:
        port = free_port()
        start("Xandikos", ["xandikos", "serve", "-d", os.path.join(tmp, "xandikos"), "--defaults",
                           "--no-detect-systemd", "-l", "127.0.0.1", "-p", str(port)], port, os.path.join(tmp, "xandikos.log"))
        url = "http://127.0.0.1:%d/" % port
        mkcalendar(url + "user/calendars/tasks/")
        runs.append(("caldav_library.py on Xandikos", ["caldav_library.py", url, "user", "unused", "--no-auth-check"]))
        runs.append(("vdirsyncer_todoman.py on Xandikos", ["vdirsyncer_todoman.py", url, "user", "unused"]))
    passed = failed = 0
    for name, cmd in runs:
        print("\n== %s" % name, flush=True)
        rc = subprocess.call([sys.executable, os.path.join(HERE, cmd[0])] + cmd[1:])
        if rc == 0:
            passed += 1
        else:
            failed += 1
            print("== %s FAILED (exit %d)" % (name, rc), flush=True)
    print("\nCalDAV clients against the anchors:")
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
