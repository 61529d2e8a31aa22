#!/usr/bin/env python3
"""vdirsyncer + todoman against a CalDAV server, as a person using them would: discover, sync,
make and change todos with `todo`, sync again, and after every sync check both sides agree.

    python3 tests/caldav/vdirsyncer_todoman.py URL USERNAME TOKEN [REST_BASE] [--keep-dir]

A temporary directory holds a vdirsyncer config (storage a: caldav with url=URL, username and
password=TOKEN; storage b: a filesystem of .ics files; collections "from a") and a todoman config
over the local folders. Rounds:
  1. `vdirsyncer discover` (answered yes), `vdirsyncer sync`
  2. `todo new` four todos -> sync
  3. `todo edit` one (summary through --raw with a scripted $EDITOR, priority with --priority),
     `todo done` one, `todo delete --yes` one; another client edits the fourth on the server
     (a PUT; with REST_BASE also a REST PATCH) and REST makes a task -> sync
  4. `todo done` the REST task locally; the fourth deleted on the server (REST DELETE with
     REST_BASE, else a DAV DELETE) -> sync
  5. sync, then sync again: the second changes nothing on either side.
After each sync: no duplicate UIDs locally or on the server, every todo on both sides with the
same SUMMARY and STATUS, what this run made present or deleted as expected. Exit 0 only when all
checks pass. vdirsyncer and todo are taken from beside the running interpreter, else from PATH.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (  # noqa: E402
    Checks,
    Rest,
    StopChecks,
    dav_session,
    ensure_deps,
    parse_multistatus,
    path_of,
    prop_text,
    tool_path,
    utc_stamp,
    vtodo_of,
    xml_request,
)

ensure_deps(["caldav", "icalendar", "requests", "lxml", "vdirsyncer", "todoman"])

import logging  # noqa: E402
from urllib.parse import unquote, urlsplit  # noqa: E402

import caldav  # noqa: E402

logging.getLogger("caldav").setLevel(logging.CRITICAL)

QUERY_ALL_TODOS = (
    '<?xml version="1.0" encoding="utf-8"?><c:calendar-query xmlns:d="DAV:" '
    'xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/><c:calendar-data/></d:prop>'
    '<c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VTODO"/></c:comp-filter>'
    "</c:filter></c:calendar-query>"
)


def toml_str(s):
    return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"')


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("url")
    ap.add_argument("username")
    ap.add_argument("token")
    ap.add_argument("rest_base", nargs="?")
    ap.add_argument("--keep-dir", action="store_true", help="leave the temporary directory (printed)")
    a = ap.parse_args()

    vdirsyncer, todo = tool_path("vdirsyncer"), tool_path("todo")
    if not vdirsyncer or not todo:
        sys.exit("error: %s not found beside %s nor on PATH (pip install -r tests/caldav/requirements.txt)" % (
            " and ".join(n for n, p in (("vdirsyncer", vdirsyncer), ("todo", todo)) if not p), sys.executable))

    wb = bool(a.rest_base)
    rest = Rest(a.rest_base, a.token) if wb else None
    run = uuid.uuid4().hex[:8]
    tmp = tempfile.mkdtemp(prefix="wb-vdirsyncer-")
    local = os.path.join(tmp, "local")
    C = Checks("vdirsyncer + todoman against %s as %s (%s)%s" % (a.url, a.username, tmp,
                                                              ", REST at %s" % rest.base if wb else ""))
    C.strict = wb
    raw = dav_session(a.username, a.token)

    vconf = os.path.join(tmp, "vdirsyncer.conf")
    with open(vconf, "w") as f:
        f.write("\n".join([
            "[general]",
            "status_path = %s" % toml_str(os.path.join(tmp, "status") + "/"),
            "",
            "[pair wb]",
            'a = "wb_remote"',
            'b = "wb_local"',
            'collections = ["from a"]',
            "",
            "[storage wb_remote]",
            'type = "caldav"',
            "url = %s" % toml_str(a.url),
            "username = %s" % toml_str(a.username),
            "password = %s" % toml_str(a.token),
            "",
            "[storage wb_local]",
            'type = "filesystem"',
            "path = %s" % toml_str(local + "/"),
            'fileext = ".ics"',
            "",
        ]))
    os.chmod(vconf, 0o600)
    env = dict(os.environ, HOME=tmp, XDG_CONFIG_HOME=os.path.join(tmp, "config"),
               XDG_CACHE_HOME=os.path.join(tmp, "cache"), XDG_DATA_HOME=os.path.join(tmp, "data"),
               LC_ALL="C.UTF-8", LANG="C.UTF-8", TZ="UTC")
    S = type("State", (), {})()
    S.expected = {}  # uid -> (summary, status) or None when deleted
    S.sync_n = 0
    S.rest_ids = []

    def sh(cmd, stdin=None, extra_env=None, check=True):
        e = dict(env, **(extra_env or {}))
        p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=e, timeout=300)
        out = (p.stdout or "") + (p.stderr or "")
        if check:
            assert p.returncode == 0, "%s exited %d:\n%s" % (" ".join(os.path.basename(c) if i == 0 else c for i, c in enumerate(cmd)), p.returncode, out[-2000:])
        return out

    def vdir(*args, stdin=None):
        return sh([vdirsyncer, "-c", vconf] + list(args), stdin=stdin)

    def tm(*args, extra_env=None):
        return sh([todo, "-c", os.path.join(tmp, "todoman.py"), "--color", "never"] + list(args), extra_env=extra_env)

    # --- the two sides ----------------------------------------------------------------------------
    def local_state():
        """{collection: {uid: [(file, summary, status)]}} of the local .ics files."""
        out = {}
        if not os.path.isdir(local):
            return out
        for coll in sorted(os.listdir(local)):
            d = os.path.join(local, coll)
            if not os.path.isdir(d):
                continue
            items = out.setdefault(coll, {})
            for name in sorted(os.listdir(d)):
                if not name.endswith(".ics"):
                    continue
                with open(os.path.join(d, name), encoding="utf-8") as fh:
                    data = fh.read()
                if "BEGIN:VTODO" not in data:
                    continue
                c = vtodo_of(data)
                items.setdefault(prop_text(c, "UID"), []).append((name, prop_text(c, "SUMMARY"), prop_text(c, "STATUS") or "NEEDS-ACTION"))
        return out

    def server_state():
        """{collection: {uid: [(href, summary, status, etag)]}} of every VTODO calendar."""
        out = {}
        for cal in S.cals:
            coll = unquote(path_of(cal.url).rstrip("/").rsplit("/", 1)[-1])
            r = xml_request(raw, "REPORT", str(cal.url), QUERY_ALL_TODOS, depth=1)
            assert r.status_code == 207, "calendar-query on %s -> %s" % (coll, r.status_code)
            items, _ = parse_multistatus(r.content)
            bucket = out.setdefault(coll, {})
            for href, st, props in items:
                cd = props.get("{urn:ietf:params:xml:ns:caldav}calendar-data")
                if cd is None or not (cd.text or "").strip():
                    continue
                c = vtodo_of(cd.text)
                etag = props.get("{DAV:}getetag")
                bucket.setdefault(prop_text(c, "UID"), []).append(
                    (path_of(href), prop_text(c, "SUMMARY"), prop_text(c, "STATUS") or "NEEDS-ACTION",
                     etag.text if etag is not None else None))
        return out

    def snapshot():
        files = {}
        for root, _, names in os.walk(local):
            for n in names:
                p = os.path.join(root, n)
                with open(p, "rb") as fh:
                    files[os.path.relpath(p, local)] = fh.read()
        srv = {coll: {uid: [(h, e) for h, _, _, e in v] for uid, v in items.items()} for coll, items in server_state().items()}
        return files, srv

    def agree(label):
        loc, srv = local_state(), server_state()
        problems = []
        for side, state in (("local", loc), ("server", srv)):
            seen = {}
            for coll, items in state.items():
                for uid, copies in items.items():
                    if len(copies) > 1:
                        problems.append("%s %s: UID %s %d times (%s)" % (side, coll, uid, len(copies), [c[0] for c in copies]))
                    seen.setdefault(uid, []).append(coll)
            for uid, colls in seen.items():
                if len(colls) > 1:
                    problems.append("%s: UID %s in several calendars %s" % (side, uid, colls))
        for coll in sorted(set(loc) | set(srv)):
            lc, sc = loc.get(coll, {}), srv.get(coll, {})
            for uid in sorted(set(lc) - set(sc)):
                problems.append("%s/%s only local (%r)" % (coll, uid, lc[uid][0][1]))
            for uid in sorted(set(sc) - set(lc)):
                problems.append("%s/%s only on the server (%r)" % (coll, uid, sc[uid][0][1]))
            for uid in sorted(set(lc) & set(sc)):
                l, s = lc[uid][0], sc[uid][0]
                if (l[1], l[2]) != (s[1], s[2]):
                    problems.append("%s/%s differs: local %r/%s, server %r/%s" % (coll, uid, l[1], l[2], s[1], s[2]))
        both = {}
        for coll, items in srv.items():
            for uid, copies in items.items():
                both[uid] = (coll, copies[0][1], copies[0][2])
        for uid, want in S.expected.items():
            got = both.get(uid)
            if want is None:
                if got is not None:
                    problems.append("deleted %s is back (%r)" % (uid, got[1]))
            elif got is None:
                problems.append("lost %s (%r)" % (uid, want[0]))
            elif (got[1], got[2]) != want:
                problems.append("%s is %r/%s, want %r/%s" % (uid, got[1], got[2], want[0], want[1]))
            elif got[0] != S.list:
                problems.append("%s is in %s, want %s" % (uid, got[0], S.list))
        assert not problems, "%s: %s" % (label, "; ".join(problems[:12]) + (" (+%d more)" % (len(problems) - 12) if len(problems) > 12 else ""))
        n = sum(len(v) for v in srv.values())
        return "%d todos on both sides in %d calendars" % (n, len(srv))

    def sync(label, *extra):
        S.sync_n += 1
        out = vdir("sync", *extra)
        S.last_sync = out
        return out

    def rest_agrees():
        """REST sees this run's todos with the same title and status (Workbench)."""
        mapping = {"NEEDS-ACTION": "pending", "IN-PROCESS": "in_progress", "COMPLETED": "completed", "CANCELLED": "completed"}
        tasks = rest.find_tasks("vts-%s" % run)
        by_title = {}
        for t in tasks:
            by_title.setdefault(t["title"], []).append(t)
        for uid, want in S.expected.items():
            if want is None:
                continue
            got = by_title.get(want[0], [])
            assert len(got) == 1, "REST has %d tasks titled %r" % (len(got), want[0])
            assert got[0]["status"] == mapping[want[1]], "REST status of %r is %s, want %s" % (
                want[0], got[0]["status"], mapping[want[1]])
        live = {w[0] for w in S.expected.values() if w}
        extra = [t["title"] for t in tasks if t["title"] not in live]
        assert not extra, "REST has tasks this run deleted or never made: %s" % extra

    # --- steps ------------------------------------------------------------------------------------
    def discover():
        client = caldav.DAVClient(url=a.url, username=a.username, password=a.token)
        try:
            principal = client.principal()
        except Exception:  # noqa: BLE001 - as Thunderbird: the well-known URL next
            origin = "{0.scheme}://{0.netloc}".format(urlsplit(a.url))
            client = caldav.DAVClient(url=origin + "/.well-known/caldav", username=a.username, password=a.token)
            principal = client.principal()
        S.cals = [c for c in principal.calendars() if "VTODO" in c.get_supported_components()]
        assert S.cals, "no VTODO calendar"
        out = vdir("discover", "wb", stdin="y\n" * 50)
        colls = sorted(d for d in os.listdir(local) if os.path.isdir(os.path.join(local, d))) if os.path.isdir(local) else []
        names = [unquote(path_of(c.url).rstrip("/").rsplit("/", 1)[-1]) for c in S.cals]
        assert set(names) <= set(colls), "vdirsyncer discovered %s, the server has VTODO calendars %s\n%s" % (colls, names, out[-1500:])
        S.list = "tasks" if "tasks" in names else names[0]
        if wb:
            assert "tasks" in colls, "no local 'tasks' collection: %s" % colls
        with open(os.path.join(tmp, "todoman.py"), "w") as f:
            f.write("\n".join([
                "path = %r" % os.path.join(local, "*"),
                'date_format = "%Y-%m-%d"',
                'time_format = "%H:%M"',
                "default_list = %r" % S.list,
                "cache_path = %r" % os.path.join(tmp, "todoman-cache.sqlite3"),
                "",
            ]))
        return "collections %s; todoman list %s" % (colls, S.list)

    def first_sync():
        sync("initial")
        return agree("after the first sync")

    def id_of(summary):
        import json

        items = json.loads(tm("--porcelain", "list", "--status", "ANY"))
        ids = [t["id"] for t in items if t["summary"] == summary]
        assert len(ids) == 1, "todo list has %d todos titled %r" % (len(ids), summary)
        return ids[0]

    def uid_of(todo_id):
        path = tm("path", str(todo_id)).strip().splitlines()[-1]
        with open(path, encoding="utf-8") as fh:
            return prop_text(vtodo_of(fh.read()), "UID")

    def create():
        S.names = {k: "vts-%s %s" % (run, k) for k in ("alpha", "beta", "gamma", "delta")}
        tm("new", "-l", S.list, S.names["alpha"])
        tm("new", "-l", S.list, "--priority", "high", "-d", "2030-03-01", S.names["beta"])
        tm("new", "-l", S.list, "-c", "vts", S.names["gamma"])
        tm("new", "-l", S.list, S.names["delta"])
        S.uids = {}
        for k, summary in S.names.items():
            S.uids[k] = uid_of(id_of(summary))
            S.expected[S.uids[k]] = (summary, "NEEDS-ACTION")
        out = sync("after todo new")
        assert "uploading" in out.lower() or "Copying" in out, "sync uploaded nothing:\n%s" % out[-1500:]
        res = agree("after todo new")
        if wb:
            rest_agrees()
        return res

    def server_href(uid):
        for coll, items in server_state().items():
            if uid in items:
                return items[uid][0][0], items[uid][0][3]
        raise AssertionError("UID %s not on the server" % uid)

    def changes_both_sides():
        # locally: a summary edited through the raw file, a priority, one done, one deleted
        k = "alpha"
        new_summary = S.names[k] + " renamed"
        # todoman's ids are its cache's: look each one up right before using it
        tm("edit", "--raw", str(id_of(S.names[k])), extra_env={
            "EDITOR": "sed -i -e 's/^SUMMARY:.*/SUMMARY:%s/'" % new_summary, "VISUAL": ""})
        tm("edit", str(id_of(new_summary)), "--priority", "low")
        S.names[k] = new_summary
        S.expected[S.uids[k]] = (new_summary, "NEEDS-ACTION")
        tm("done", str(id_of(S.names["beta"])))
        S.expected[S.uids["beta"]] = (S.names["beta"], "COMPLETED")
        tm("delete", "--yes", str(id_of(S.names["gamma"])))
        S.expected[S.uids["gamma"]] = None
        # on the server: another client edits delta (a DAV PUT with If-Match, or REST)
        href, etag = server_href(S.uids["delta"])
        full = "{0.scheme}://{0.netloc}".format(urlsplit(a.url)) + href
        if wb:
            task = [t for t in rest.find_tasks(S.names["delta"]) if t["title"] == S.names["delta"]]
            assert len(task) == 1, "REST finds %d tasks for %r" % (len(task), S.names["delta"])
            S.delta_id = task[0]["id"]
            S.names["delta"] += " (REST)"
            rest.patch_task(S.delta_id, title=S.names["delta"], status="in_progress")
            S.expected[S.uids["delta"]] = (S.names["delta"], "IN-PROCESS")
            t = rest.create_task(title="vts-%s epsilon (REST)" % run, priority="high")
            S.rest_ids.append(t["id"])
            S.eps_id = t["id"]
            S.uids["epsilon"] = "workbench-task-%d" % t["id"]
            S.names["epsilon"] = t["title"]
            S.expected[S.uids["epsilon"]] = (t["title"], "NEEDS-ACTION")
        else:
            body = raw.get(full).text
            S.names["delta"] += " (other client)"
            body = re.sub(r"(?m)^SUMMARY:.*$", "SUMMARY:" + S.names["delta"], body.replace("\r\n", "\n"))
            body = re.sub(r"(?m)^DTSTAMP:.*$", "DTSTAMP:" + utc_stamp(), body).replace("\n", "\r\n")
            r = raw.put(full, data=body.encode(), headers={"If-Match": etag, "Content-Type": "text/calendar; charset=utf-8"})
            assert r.status_code in (200, 201, 204), "another client's PUT -> %s" % r.status_code
            S.expected[S.uids["delta"]] = (S.names["delta"], "NEEDS-ACTION")
            # and another client makes a todo
            uid = "vts-%s-epsilon" % run
            S.uids["epsilon"] = uid
            S.names["epsilon"] = "vts-%s epsilon (other client)" % run
            ics = "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Workbench//vts//EN", "BEGIN:VTODO",
                               "UID:" + uid, "DTSTAMP:" + utc_stamp(), "SUMMARY:" + S.names["epsilon"],
                               "STATUS:NEEDS-ACTION", "END:VTODO", "END:VCALENDAR", ""])
            cal_url = [str(c.url) for c in S.cals if unquote(path_of(c.url).rstrip("/").rsplit("/", 1)[-1]) == S.list][0]
            r = raw.put(cal_url + uid + ".ics", data=ics.encode(),
                        headers={"If-None-Match": "*", "Content-Type": "text/calendar; charset=utf-8"})
            assert r.status_code in (201, 204), "another client's create -> %s" % r.status_code
            S.expected[uid] = (S.names["epsilon"], "NEEDS-ACTION")
        sync("after edits on both sides")
        res = agree("after edits on both sides")
        loc = local_state().get(S.list, {})
        assert S.uids["epsilon"] in loc, "the server-side todo did not reach the local folder"
        if wb:
            rest_agrees()
        return res

    def done_and_delete():
        tm("done", str(id_of(S.names["epsilon"])))
        S.expected[S.uids["epsilon"]] = (S.names["epsilon"], "COMPLETED")
        if wb:
            rest.delete_task(S.delta_id)
        else:
            href, etag = server_href(S.uids["delta"])
            r = raw.delete("{0.scheme}://{0.netloc}".format(urlsplit(a.url)) + href, headers={"If-Match": etag})
            assert r.status_code in (200, 204), "another client's DELETE -> %s" % r.status_code
        S.expected[S.uids["delta"]] = None
        sync("after done and a server-side delete")
        res = agree("after done and a server-side delete")
        assert S.uids["delta"] not in local_state().get(S.list, {}), "the server-side delete did not reach the local folder"
        if wb:
            got = rest.get_task(S.eps_id)
            assert got and got["status"] == "completed", "REST task done in todoman is %s" % (got or {}).get("status")
            rest_agrees()
        return res

    def settle():
        sync("settling")
        agree("settling")
        before = snapshot()
        out = sync("the second of two")
        after = snapshot()
        actions = [l for l in out.splitlines() if re.search(r"Copying|Deleting|conflict|uploading|updating", l, re.I)]
        assert not actions, "the second sync still did: %s" % actions[:5]
        assert before[0] == after[0], "local files changed: %s" % sorted(
            k for k in set(before[0]) | set(after[0]) if before[0].get(k) != after[0].get(k))[:5]
        assert before[1] == after[1], "server hrefs/ETags changed in a no-op sync"
        return agree("after the second sync")

    def cleanup():
        for k in ("alpha", "beta", "epsilon"):
            if k in S.names:
                try:
                    tm("delete", "--yes", str(id_of(S.names[k])))
                    S.expected[S.uids[k]] = None
                except AssertionError:
                    pass
        # the list may now be empty: vdirsyncer then wants to be told that emptying it is meant
        sync("cleanup", "--force-delete")
        agree("after cleanup")

    def scrub():
        """After a failure: delete this run's todos on the server, best effort."""
        try:
            for coll, items in server_state().items():
                for uid, copies in items.items():
                    for href, summary, _, etag in copies:
                        if summary and summary.startswith("vts-%s" % run):
                            raw.delete("{0.scheme}://{0.netloc}".format(urlsplit(a.url)) + href)
        except Exception:  # noqa: BLE001
            pass

    steps = [
        ("vdirsyncer discover (answered yes)", discover, True),
        ("vdirsyncer sync: both sides agree", first_sync, True),
        ("todo new x4, sync: uploaded, agree", create, True),
        ("todo edit/done/delete + server-side edit+create, sync", changes_both_sides, True),
        ("todo done + server-side delete, sync", done_and_delete, True),
        ("sync twice: the second changes nothing", settle, True),
        ("cleanup: todo delete, sync", cleanup, False),
    ]
    try:
        for name, fn, critical in steps:
            C.run(name, fn, critical=critical)
    except StopChecks as e:
        print("stopped: %s failed and the checks after it need it" % e)
        if hasattr(S, "last_sync"):
            print("last vdirsyncer output:\n" + S.last_sync[-3000:])
    finally:
        if C.failed:
            scrub()
        for tid in S.rest_ids:
            try:
                if rest.get_task(tid):
                    rest.delete_task(tid)
            except Exception:  # noqa: BLE001
                pass
        if a.keep_dir or C.failed:
            print("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return C.summary()


if __name__ == "__main__":
    sys.exit(main())
