"""Shared helpers of the CalDAV client checks (tests/caldav/*.py): finding an interpreter that has
the clients installed, a check runner that prints one line per check, raw WebDAV requests
(PROPFIND, REPORT) with their multistatus parsed, iCalendar helpers and a small REST client.

Only the standard library is imported at module level: `ensure_deps()` must run before anything
else, so that a `python3` without the clients re-executes the script under one that has them.
"""

import os
import re
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def venv_candidates():
    """Interpreters that may have tests/caldav/requirements.txt installed, best first."""
    env = os.environ.get("CALDAV_PYTHON")
    if env:
        yield env
    yield os.path.join(REPO, "target", "caldav-venv", "bin", "python")


def ensure_deps(modules):
    """Import `modules`; when one is missing, re-execute this script under an interpreter that
    has them (CALDAV_PYTHON, else target/caldav-venv), or fail with a clear message."""
    missing = []
    for name in modules:
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if not missing:
        return
    if os.environ.get("CALDAV_REEXEC") != "1":
        for candidate in venv_candidates():
            if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                if os.path.abspath(candidate) == os.path.abspath(sys.executable):
                    continue
                os.environ["CALDAV_REEXEC"] = "1"
                os.execv(candidate, [candidate] + sys.argv)
    sys.exit(
        "error: missing Python modules %s. Install the clients with\n"
        "  python3 -m venv target/caldav-venv && "
        "target/caldav-venv/bin/pip install -r tests/caldav/requirements.txt\n"
        "(or point CALDAV_PYTHON at an interpreter that has them)." % ", ".join(missing)
    )


def tool_path(name):
    """A console script (vdirsyncer, todo, radicale, xandikos): beside the running interpreter
    first (a venv's bin/), else on PATH; None when absent."""
    import shutil

    beside = os.path.join(os.path.dirname(sys.executable), name)
    if os.path.isfile(beside) and os.access(beside, os.X_OK):
        return beside
    return shutil.which(name)


class Checks:
    """Runs named checks in order and prints one line per check.

    A check is a callable that asserts (with a message); an AssertionError or any exception
    fails that check only, unless it is `critical`, which stops the run (what follows needs
    it). `summary()` prints 'N passed, N failed' and returns the exit status."""

    def __init__(self, title):
        self.title = title
        self.passed = 0
        self.failed = 0
        self.skipped = 0
        self.failures = []
        self.strict = True
        self.notes = []
        self.tolerated = 0
        print("# %s" % title, flush=True)

    def expect(self, cond, message):
        """An RFC requirement that anchors (Radicale, Xandikos) are known to bend: asserted when
        strict (Workbench), else noted on the check's line as tolerated."""
        if cond:
            return
        assert not self.strict, message
        self.notes.append(message)

    def run(self, name, fn, critical=False):
        started = time.monotonic()
        self.notes = []
        try:
            detail = fn()
        except AssertionError as e:
            self._fail(name, str(e) or "assertion failed", started)
            if critical:
                raise StopChecks(name)
            return None
        except StopChecks:
            raise
        except Exception as e:  # noqa: BLE001 - any error fails the check, with its cause
            tb = traceback.format_exc(limit=4).strip().splitlines()
            self._fail(name, "%s: %s [%s]" % (type(e).__name__, e, tb[-3].strip() if len(tb) > 2 else ""), started)
            if critical:
                raise StopChecks(name)
            return None
        self.passed += 1
        ms = (time.monotonic() - started) * 1000
        suffix = " (%s)" % detail if isinstance(detail, str) and detail else ""
        if self.notes:
            self.tolerated += 1
            suffix += " [tolerated, not RFC: %s]" % "; ".join(n if len(n) < 300 else n[:300] + "..." for n in self.notes)
        print("ok   %-58s %6.0f ms%s" % (name, ms, suffix), flush=True)
        return True

    def skip(self, name, why):
        self.skipped += 1
        print("skip %-58s (%s)" % (name, why), flush=True)

    def _fail(self, name, message, started):
        self.failed += 1
        self.failures.append((name, message))
        ms = (time.monotonic() - started) * 1000
        print("FAIL %-58s %6.0f ms: %s" % (name, ms, message), flush=True)

    def summary(self):
        if self.failures:
            print("\nfailed checks:")
            for name, message in self.failures:
                print("  - %s: %s" % (name, message))
        line = "%d passed, %d failed" % (self.passed, self.failed)
        if self.skipped:
            line += ", %d skipped" % self.skipped
        if self.tolerated:
            print("%d checks passed with a tolerated deviation (strict against Workbench)" % self.tolerated)
        print(line, flush=True)
        return 0 if self.failed == 0 and self.passed > 0 else 1


class StopChecks(Exception):
    pass


# ------------------------------------------------------------------------------------------------
# Raw WebDAV

NS = {"d": "DAV:", "c": "urn:ietf:params:xml:ns:caldav", "cs": "http://calendarserver.org/ns/"}


def dav_session(username, password):
    import requests

    s = requests.Session()
    s.auth = (username, password)
    s.headers["User-Agent"] = "workbench-caldav-checks"
    return s


def xml_request(session, method, url, body, depth=None, headers=None):
    h = {"Content-Type": "application/xml; charset=utf-8"}
    if depth is not None:
        h["Depth"] = str(depth)
    if headers:
        h.update(headers)
    data = body.encode("utf-8") if isinstance(body, str) else body
    return session.request(method, url, data=data, headers=h, allow_redirects=False)


def parse_multistatus(text):
    """[(href, status_code_or_None, {clark_tag: element}, per_response_status)] from a multistatus.

    Properties are only those reported with a 2xx propstat; `status` is the response-level
    DAV:status (a removed member in sync-collection), else None."""
    from lxml import etree

    root = etree.fromstring(text.encode("utf-8") if isinstance(text, str) else text)
    out = []
    for resp in root.findall("d:response", NS):
        href = resp.findtext("d:href", namespaces=NS)
        status = resp.findtext("d:status", namespaces=NS)
        code = int(status.split()[1]) if status else None
        props = {}
        for ps in resp.findall("d:propstat", NS):
            st = ps.findtext("d:status", namespaces=NS) or ""
            parts = st.split()
            if len(parts) >= 2 and parts[1].startswith("2"):
                prop = ps.find("d:prop", NS)
                if prop is not None:
                    for el in prop:
                        props[el.tag] = el
        out.append((href, code, props))
    return out, root


def text_of(el):
    return (el.text or "").strip() if el is not None else None


def propfind(session, url, props_xml, depth=0):
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" '
        'xmlns:cs="http://calendarserver.org/ns/"><d:prop>%s</d:prop></d:propfind>' % props_xml
    )
    return xml_request(session, "PROPFIND", url, body, depth=depth)


def sync_collection(session, url, token, limit=None, props_xml="<d:getetag/>"):
    """REPORT sync-collection; returns (response, [(href, status, props)], new token)."""
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<d:sync-collection xmlns:d="DAV:"><d:sync-token>%s</d:sync-token>'
        "<d:sync-level>1</d:sync-level>%s<d:prop>%s</d:prop></d:sync-collection>"
        % (xml_escape(token or ""), "<d:limit><d:nresults>%d</d:nresults></d:limit>" % limit if limit else "", props_xml)
    )
    r = xml_request(session, "REPORT", url, body, depth=None)
    if r.status_code != 207:
        return r, None, None
    items, root = parse_multistatus(r.content)
    return r, items, root.findtext("d:sync-token", namespaces=NS)


def xml_escape(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def same_path(a, b):
    """Two hrefs or URLs naming the same path (percent-encoding and host aside)."""
    from urllib.parse import unquote, urlsplit

    def norm(x):
        p = unquote(urlsplit(str(x)).path)
        return p

    return norm(a) == norm(b)


def path_of(x):
    from urllib.parse import unquote, urlsplit

    return unquote(urlsplit(str(x)).path)


# ------------------------------------------------------------------------------------------------
# iCalendar


def vtodo_of(data):
    """The first VTODO of an iCalendar text, parsed with `icalendar`."""
    import icalendar

    cal = icalendar.Calendar.from_ical(data)
    for comp in cal.walk("VTODO"):
        return comp
    raise AssertionError("no VTODO in the calendar data: %r" % data[:200])


def prop_text(comp, name):
    v = comp.get(name)
    if v is None:
        return None
    if isinstance(v, list):
        v = v[0]
    return str(v)


def categories_of(comp):
    out = []
    v = comp.get("CATEGORIES")
    if v is None:
        return out
    for item in v if isinstance(v, list) else [v]:
        cats = getattr(item, "cats", None)
        if cats is None:
            cats = str(item.to_ical().decode()).split(",")
        out.extend(str(c) for c in cats)
    return sorted(out)


def unescape_text(s):
    """RFC 5545 TEXT unescaping (a no-op on an already unescaped value without backslashes)."""
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), s)


def utc_stamp(ts=None):
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(ts if ts is not None else time.time()))


# ------------------------------------------------------------------------------------------------
# REST (Workbench only)


class Rest:
    """Workbench's REST API with the same personal access token (Bearer)."""

    def __init__(self, base, token):
        import requests

        base = base.rstrip("/")
        if not base.endswith("/api/v1"):
            base += "/api/v1"
        self.base = base
        self.s = requests.Session()
        self.s.headers["Authorization"] = "Bearer " + token
        self.s.headers["User-Agent"] = "workbench-caldav-checks"

    def req(self, method, path, expect=None, **kw):
        r = self.s.request(method, self.base + path, **kw)
        if expect is not None:
            codes = expect if isinstance(expect, (tuple, list, set)) else (expect,)
            assert r.status_code in codes, "%s %s -> %s %s" % (method, path, r.status_code, r.text[:300])
        return r

    def create_task(self, **fields):
        return self.req("POST", "/tasks", expect=201, json=fields).json()

    def patch_task(self, task_id, **fields):
        return self.req("PATCH", "/tasks/%d" % task_id, expect=200, json=fields).json()

    def delete_task(self, task_id):
        self.req("DELETE", "/tasks/%d" % task_id, expect=204)

    def get_task(self, task_id):
        r = self.req("GET", "/tasks/%d" % task_id)
        return r.json() if r.status_code == 200 else None

    def find_tasks(self, q):
        return self.req("GET", "/tasks", expect=200, params={"q": q, "per_page": 100}).json()["data"]

    def all_tasks(self):
        out, page = [], 1
        while True:
            body = self.req("GET", "/tasks", expect=200, params={"page": page, "per_page": 100}).json()
            out.extend(body["data"])
            if page >= body["pagination"]["pages"]:
                return out
            page += 1

    def me(self):
        return self.req("GET", "/auth/me", expect=200).json()
