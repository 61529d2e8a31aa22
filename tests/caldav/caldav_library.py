#!/usr/bin/env python3
"""Drive a CalDAV server with the `caldav` library the way a Thunderbird-style client does,
given only the server's base URL, and check what RFC 4791/4918/6578 and the API contract ("CalDAV")
promise. One line per check; exit 0 only when every check passes.

    python3 tests/caldav/caldav_library.py URL USERNAME TOKEN [REST_BASE]
        [--account-password PW]   a password that must be refused (401): the account's password
                                  on Workbench (default: $CALDAV_ACCOUNT_PASSWORD, else a wrong token)
        [--no-auth-check]         the server has no authentication (Xandikos): skip the 401 check
        [--keep]                  leave the todos made here on the server

URL is the server's base URL (`http://127.0.0.1:8080/`); TOKEN is the password (a personal access
token `wbp_...` on Workbench, scopes tasks:read, tasks:write, projects:read). With REST_BASE
(`http://127.0.0.1:8080` or `.../api/v1`) the server is taken to be Workbench: its URL layout
(/dav/principals/<id>/, /dav/calendars/<id>/tasks/, project-<id>/), its stricter answers and the
REST <-> CalDAV mapping are checked too. Without it any server with a VTODO calendar will do
(Radicale, Xandikos): the personal calendar is then the one at .../tasks/, else the first that
takes VTODO.
"""

import argparse
import os
import re
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (  # noqa: E402
    NS,
    Checks,
    Rest,
    StopChecks,
    categories_of,
    dav_session,
    ensure_deps,
    parse_multistatus,
    path_of,
    prop_text,
    propfind,
    same_path,
    sync_collection,
    text_of,
    unescape_text,
    utc_stamp,
    vtodo_of,
    xml_request,
)

ensure_deps(["caldav", "icalendar", "requests", "lxml"])

import logging  # noqa: E402
import datetime  # noqa: E402
from datetime import timezone  # noqa: E402
from urllib.parse import urljoin, urlsplit  # noqa: E402

import caldav  # noqa: E402
from caldav.lib import error as caldav_error  # noqa: E402

logging.getLogger("caldav").setLevel(logging.CRITICAL)

X_PROP = "X-WORKBENCH-CHECK"
X_VALUE = "kept as written; with a comma, too"


def todo_ics(uid, summary, *, description=None, priority=None, due=None, categories=None,
             status="NEEDS-ACTION", extra=None, alarm=False, xprop=False):
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Workbench//caldav_library.py//EN",
        "BEGIN:VTODO",
        "UID:" + uid,
        "DTSTAMP:" + utc_stamp(),
        "SUMMARY:" + summary,
        "STATUS:" + status,
    ]
    if description:
        lines.append("DESCRIPTION:" + description)
    if priority is not None:
        lines.append("PRIORITY:%d" % priority)
    if due:
        lines.append("DUE:" + due)
    if categories:
        lines.append("CATEGORIES:" + ",".join(categories))
    if xprop:
        lines.append("%s;X-CHECK-PARAM=yes:%s" % (X_PROP, X_VALUE.replace(";", "\\;").replace(",", "\\,")))
    if extra:
        lines.extend(extra)
    if alarm:
        lines += [
            "BEGIN:VALARM",
            "ACTION:DISPLAY",
            "DESCRIPTION:Workbench check reminder",
            "TRIGGER;RELATED=END:-PT15M",
            "END:VALARM",
        ]
    lines += ["END:VTODO", "END:VCALENDAR", ""]
    return "\r\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("url")
    ap.add_argument("username")
    ap.add_argument("token")
    ap.add_argument("rest_base", nargs="?")
    ap.add_argument("--account-password", default=os.environ.get("CALDAV_ACCOUNT_PASSWORD"))
    ap.add_argument("--no-auth-check", action="store_true")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()

    wb = bool(a.rest_base)  # Workbench: strict layout and REST checks
    rest = Rest(a.rest_base, a.token) if wb else None
    run_id = uuid.uuid4().hex[:10]
    C = Checks("caldav %s against %s as %s%s" % (caldav.__version__, a.url, a.username,
                                                  " (Workbench, REST at %s)" % rest.base if wb else ""))
    C.strict = wb
    raw = dav_session(a.username, a.token)
    S = type("State", (), {})()
    S.client = None
    S.made = []  # caldav objects to delete at the end
    S.rest_made = []
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(a.url))

    # --- discovery -------------------------------------------------------------------------------
    def well_known():
        statuses = []
        for method in ("PROPFIND", "GET"):
            r = raw.request(method, origin + "/.well-known/caldav", allow_redirects=False,
                            headers={"Depth": "0"} if method == "PROPFIND" else {})
            allowed = (301, 308) if wb else (301, 302, 303, 307, 308)
            assert r.status_code in allowed, "%s /.well-known/caldav -> %s, want one of %s" % (
                method, r.status_code, allowed)
            loc = r.headers.get("Location")
            assert loc, "%s /.well-known/caldav: a %s without Location" % (method, r.status_code)
            if wb:
                assert path_of(urljoin(origin + "/", loc)) == "/dav/", "redirects to %r, want /dav/" % loc
            statuses.append("%s %s -> %s" % (method, r.status_code, loc))
            S.dav_root = urljoin(origin + "/.well-known/caldav", loc)
        return "; ".join(statuses)

    def principal():
        # As Thunderbird: the URL the user typed first; when it has no current-user-principal,
        # the RFC 6764 well-known URL.
        tried = []
        for url in [a.url] + ([S.dav_root] if getattr(S, "dav_root", None) else []):
            client = caldav.DAVClient(url=url, username=a.username, password=a.token)
            try:
                p = client.principal()
                S.client, S.principal = client, p
                return "principal %s (found from %s)" % (path_of(p.url), url)
            except Exception as e:  # noqa: BLE001
                tried.append("%s: %s" % (url, type(e).__name__))
        raise AssertionError("no current-user-principal found: " + "; ".join(tried))

    def principal_layout():
        p = path_of(S.principal.url)
        m = re.fullmatch(r"/dav/principals/(\d+)/", p)
        assert m, "principal at %r, want /dav/principals/<user id>/" % p
        S.user_id = int(m.group(1))
        r = propfind(raw, str(S.principal.url), "<d:principal-URL/><c:calendar-home-set/>")
        assert r.status_code == 207, "PROPFIND principal -> %s" % r.status_code
        items, _ = parse_multistatus(r.content)
        props = items[0][2]
        purl = props.get("{DAV:}principal-URL")
        assert purl is not None and same_path(text_of(purl.find("d:href", NS)), p), "DAV:principal-URL missing or not itself"
        return "user id %d" % S.user_id

    def home_set():
        home = S.principal.calendar_home_set
        S.home = str(home.url)
        if wb:
            want = "/dav/calendars/%d/" % S.user_id
            assert path_of(S.home) == want, "calendar-home-set %r, want %r" % (path_of(S.home), want)
        return path_of(S.home)

    def options():
        r = raw.options(S.home)
        assert r.status_code in (200, 204), "OPTIONS -> %s" % r.status_code
        dav = {t.strip() for t in r.headers.get("DAV", "").split(",")}
        want = {"1", "3", "calendar-access"} if wb else {"1", "calendar-access"}
        assert want <= dav, "DAV: %r lacks %s" % (r.headers.get("DAV"), want - dav)
        return "DAV: " + r.headers.get("DAV", "")

    def current_user_principal_everywhere():
        for url in (S.home, S.principal.url):
            r = propfind(raw, str(url), "<d:current-user-principal/>")
            assert r.status_code == 207, "PROPFIND %s -> %s" % (url, r.status_code)
            items, _ = parse_multistatus(r.content)
            cup = items[0][2].get("{DAV:}current-user-principal")
            assert cup is not None, "%s answers no DAV:current-user-principal" % path_of(url)
            assert same_path(text_of(cup.find("d:href", NS)), S.principal.url), "current-user-principal differs"

    def calendars():
        cals = S.principal.calendars()
        assert cals, "principal has no calendars"
        S.cals = cals
        info = []
        todo_cals = []
        for cal in cals:
            comps = cal.get_supported_components()
            info.append("%s %s" % (path_of(cal.url), ",".join(comps)))
            if "VTODO" in comps:
                todo_cals.append(cal)
        assert todo_cals, "no calendar takes VTODO: %s" % info
        by_tasks = [c for c in todo_cals if path_of(c.url).rstrip("/").endswith("/tasks")]
        S.cal = (by_tasks or todo_cals)[0]
        S.cal_url = str(S.cal.url)
        S.cal_comps = S.cal.get_supported_components()
        if wb:
            want = "/dav/calendars/%d/tasks/" % S.user_id
            assert path_of(S.cal_url) == want, "personal calendar %r, want %r" % (path_of(S.cal_url), want)
            for cal in cals:
                comps = cal.get_supported_components()
                assert comps == ["VTODO"], "%s takes %s, want VTODO only" % (path_of(cal.url), comps)
        return "using %s of %d: %s" % (path_of(S.cal_url), len(cals), "; ".join(info))

    def project_calendars():
        projects = {}
        page = 1
        while True:
            body = rest.req("GET", "/projects", expect=200, params={"page": page, "per_page": 100}).json()
            for p in body["data"]:
                projects[p["id"]] = p
            if page >= body["pagination"]["pages"]:
                break
            page += 1
        seen = 0
        for cal in S.cals:
            p = path_of(cal.url)
            if p == path_of(S.cal_url):
                continue
            m = re.fullmatch(r"/dav/calendars/%d/project-(\d+)/" % S.user_id, p)
            assert m, "unexpected calendar %r (want tasks/ or project-<id>/)" % p
            pid = int(m.group(1))
            assert pid in projects, "calendar of project %d, which REST does not list" % pid
            name = cal.get_display_name()
            assert name == projects[pid]["name"], "project %d: display name %r, REST name %r" % (
                pid, name, projects[pid]["name"])
            seen += 1
        active = [p for p in projects.values() if not p.get("archived")]
        assert seen >= len(active), "%d project calendars for %d active projects" % (seen, len(active))
        return "%d project calendars" % seen

    def calendar_props():
        r = propfind(raw, S.cal_url, "<d:sync-token/><cs:getctag/><d:current-user-privilege-set/>"
                     "<d:resourcetype/><d:displayname/>")
        assert r.status_code == 207, "PROPFIND calendar -> %s" % r.status_code
        items, _ = parse_multistatus(r.content)
        props = items[0][2]
        rt = props.get("{DAV:}resourcetype")
        assert rt is not None and rt.find("c:calendar", NS) is not None, "resourcetype lacks CALDAV:calendar"
        assert text_of(props.get("{DAV:}sync-token")), "no DAV:sync-token"
        assert text_of(props.get("{http://calendarserver.org/ns/}getctag")), "no CS:getctag"
        cups = props.get("{DAV:}current-user-privilege-set")
        assert cups is not None, "no DAV:current-user-privilege-set"
        privs = {el.tag for p in cups.findall("d:privilege", NS) for el in p}
        writable = {"{DAV:}write", "{DAV:}all", "{DAV:}write-content", "{DAV:}bind"} & privs
        assert writable, "no write privilege for a tasks:write token: %s" % sorted(privs)
        S.ctag = text_of(props.get("{http://calendarserver.org/ns/}getctag"))
        return "privileges: " + ",".join(sorted(t.split("}")[1] for t in privs))

    # --- writing and reading back ---------------------------------------------------------------
    def save_todo():
        S.uid = "wbcheck-%s-main" % run_id
        S.summary = "Check %s buy milk" % run_id
        S.ics = todo_ics(S.uid, S.summary, description="Two litres, semi-skimmed", priority=1,
                         due="20300115T100000Z", categories=["errands", "home"], alarm=True, xprop=True,
                         extra=["DTSTART:20300110T090000Z", "PERCENT-COMPLETE:10"])
        t = S.cal.save_todo(S.ics)
        S.made.append(t)
        S.todo = t
        assert t.url is not None, "save_todo gave no URL"
        return path_of(t.url)

    def read_back():
        t = S.cal.todo_by_uid(S.uid)  # a calendar-query by UID, as the library does
        assert same_path(t.url, S.todo.url), "found at %s, saved at %s" % (t.url, S.todo.url)
        r = raw.get(str(S.todo.url))
        assert r.status_code == 200, "GET -> %s" % r.status_code
        assert r.headers.get("Content-Type", "").startswith("text/calendar"), "Content-Type %r" % r.headers.get("Content-Type")
        for data in (t.data, r.text):
            c = vtodo_of(data)
            assert prop_text(c, "UID") == S.uid, "UID %r" % prop_text(c, "UID")
            assert prop_text(c, "SUMMARY") == S.summary, "SUMMARY %r" % prop_text(c, "SUMMARY")
            assert prop_text(c, "DESCRIPTION") == "Two litres, semi-skimmed", "DESCRIPTION %r" % prop_text(c, "DESCRIPTION")
            assert prop_text(c, "STATUS") == "NEEDS-ACTION", "STATUS %r" % prop_text(c, "STATUS")
            assert int(c.get("PRIORITY")) == 1, "PRIORITY %r" % c.get("PRIORITY")
            due = c.decoded("DUE")
            due = due.astimezone(timezone.utc) if getattr(due, "tzinfo", None) else due
            assert due.strftime("%Y%m%dT%H%M%SZ") == "20300115T100000Z", "DUE %r" % c.get("DUE").to_ical()
            assert categories_of(c) == ["errands", "home"], "CATEGORIES %r" % categories_of(c)
            assert c.decoded("DTSTART").strftime("%Y%m%dT%H%M%SZ") == "20300110T090000Z", "DTSTART lost"
            assert int(c.get("PERCENT-COMPLETE", -1)) == 10, "PERCENT-COMPLETE lost"
            x = c.get(X_PROP)
            assert x is not None, "%s lost: %s" % (X_PROP, data)
            assert unescape_text(str(x)) == X_VALUE, "%s = %r, want %r" % (X_PROP, str(x), X_VALUE)
            assert x.params.get("X-CHECK-PARAM") == "yes", "%s lost its parameter: %r" % (X_PROP, dict(x.params))
            alarms = c.walk("VALARM")
            assert len(alarms) == 1, "%d VALARMs, want 1" % len(alarms)
            al = alarms[0]
            assert prop_text(al, "ACTION") == "DISPLAY", "VALARM ACTION %r" % prop_text(al, "ACTION")
            trig = al.get("TRIGGER")
            assert trig is not None and al.decoded("TRIGGER").total_seconds() == -900, "VALARM TRIGGER %r" % trig
            assert trig.params.get("RELATED") == "END", "TRIGGER lost RELATED=END"
        return "fields, %s and VALARM kept" % X_PROP

    def etag_of(url):
        r = propfind(raw, str(url), "<d:getetag/>")
        assert r.status_code == 207, "PROPFIND getetag -> %s" % r.status_code
        items, _ = parse_multistatus(r.content)
        return text_of(items[0][2].get("{DAV:}getetag"))

    def etags():
        e1 = etag_of(S.todo.url)
        g = raw.get(str(S.todo.url))
        assert e1, "no getetag"
        assert g.headers.get("ETag") == e1, "GET ETag %r != PROPFIND getetag %r" % (g.headers.get("ETag"), e1)
        assert not e1.startswith("W/"), "weak ETag %r (CalDAV clients need strong ones)" % e1
        S.todo.load()
        S.todo.icalendar_component["SUMMARY"] = S.summary + " (edited)"
        S.todo.save()
        S.summary += " (edited)"
        e2 = etag_of(S.todo.url)
        assert e2 and e2 != e1, "ETag did not change on edit (%r)" % e1
        assert prop_text(vtodo_of(raw.get(str(S.todo.url)).text), "SUMMARY") == S.summary, "edit not stored"
        # a write with the old ETag is refused, the current one accepted
        body = raw.get(str(S.todo.url)).text
        r = raw.put(str(S.todo.url), data=body.encode(), headers={"If-Match": e1, "Content-Type": "text/calendar; charset=utf-8"})
        assert r.status_code == 412, "PUT with a stale If-Match -> %s, want 412" % r.status_code
        r = raw.put(str(S.todo.url), data=body.encode(), headers={"If-None-Match": "*", "Content-Type": "text/calendar; charset=utf-8"})
        assert r.status_code == 412, "PUT If-None-Match: * over an existing object -> %s, want 412" % r.status_code
        r = raw.put(str(S.todo.url), data=body.encode(), headers={"If-Match": e2, "Content-Type": "text/calendar; charset=utf-8"})
        assert r.status_code in (200, 204), "PUT with the current If-Match -> %s" % r.status_code
        S.etag = etag_of(S.todo.url)
        # the collection's CTag moved as well
        r = propfind(raw, S.cal_url, "<cs:getctag/>")
        ctag = text_of(parse_multistatus(r.content)[0][0][2].get("{http://calendarserver.org/ns/}getctag"))
        assert ctag != S.ctag, "CS:getctag did not change after writes"
        return "%s -> %s" % (e1, e2)

    def vevent_refused():
        if "VEVENT" in S.cal_comps:
            return "calendar takes VEVENT too: nothing to refuse"
        ev = "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Workbench//check//EN", "BEGIN:VEVENT",
                          "UID:wbcheck-%s-event" % run_id, "DTSTAMP:" + utc_stamp(), "DTSTART:20300101T100000Z",
                          "DTEND:20300101T110000Z", "SUMMARY:an event", "END:VEVENT", "END:VCALENDAR", ""])
        url = S.cal_url + "wbcheck-%s-event.ics" % run_id
        r = raw.put(url, data=ev.encode(), headers={"Content-Type": "text/calendar; charset=utf-8", "If-None-Match": "*"})
        if r.status_code in (200, 201, 204):
            raw.delete(url)
            S.vevent_deleted = url
            C.expect(False, "a VEVENT was stored (%s) in a VTODO-only calendar (RFC 4791 5.3.2.1)" % r.status_code)
            return "accepted"
        assert r.status_code == 403, "PUT of a VEVENT into a VTODO-only calendar -> %s, want 403" % r.status_code
        assert "supported-calendar-component" in r.text, "403 body names no CALDAV:supported-calendar-component: %r" % r.text[:300]
        return "403 supported-calendar-component"

    def listing():
        S.extra = []
        for n, (summary, status) in enumerate([("Check %s second" % run_id, "NEEDS-ACTION"),
                                               ("Check %s third" % run_id, "IN-PROCESS")]):
            t = S.cal.save_todo(todo_ics("wbcheck-%s-%d" % (run_id, n), summary, status=status))
            S.made.append(t)
            S.extra.append(t)
        todos = S.cal.todos(include_completed=True)
        uids = [prop_text(vtodo_of(t.data), "UID") for t in todos]
        ours = {S.uid, "wbcheck-%s-0" % run_id, "wbcheck-%s-1" % run_id}
        assert ours <= set(uids), "todos(include_completed=True) lacks %s" % (ours - set(uids))
        assert len(uids) == len(set(uids)), "duplicate UIDs in todos(): %s" % uids
        return "%d todos" % len(todos)

    def complete():
        t = S.extra[0]
        t.load()
        when = datetime.datetime(2026, 11, 28, 9, 30, tzinfo=datetime.timezone.utc)
        t.complete(completion_timestamp=when)
        c = vtodo_of(raw.get(str(t.url)).text)
        assert prop_text(c, "STATUS") == "COMPLETED", "STATUS %r after complete()" % prop_text(c, "STATUS")
        assert c.get("COMPLETED") is not None, "no COMPLETED date-time after complete()"
        assert c.decoded("COMPLETED") == when, "COMPLETED %r, the client wrote %r" % (c.decoded("COMPLETED"), when)
        pending = {prop_text(vtodo_of(x.data), "UID") for x in S.cal.todos()}
        everything = {prop_text(vtodo_of(x.data), "UID") for x in S.cal.todos(include_completed=True)}
        uid = prop_text(c, "UID")
        assert uid not in pending, "a completed todo is listed by todos()"
        assert uid in everything, "a completed todo is missing from todos(include_completed=True)"
        assert S.uid in pending, "a pending todo is missing from todos()"

    # --- RFC 6578 sync ----------------------------------------------------------------------------
    def sync_initial():
        objs = S.cal.objects_by_sync_token(load_objects=False, disable_fallback=True)
        S.sync_token = objs.sync_token
        assert S.sync_token and not str(S.sync_token).startswith("fake-"), "no real sync token: %r" % S.sync_token
        removed = {path_of(u) for u in objs.deleted_urls}
        C.expect(not removed, "the initial sync reports removed members %s (RFC 6578 3.4)" % sorted(removed))
        hrefs = {path_of(o.url) for o in objs} - removed
        want = {path_of(t.url) for t in S.made}
        assert want <= hrefs, "initial sync lacks %s" % (want - hrefs)
        for o in objs:
            if path_of(o.url) not in removed:
                assert o.props.get("{DAV:}getetag"), "initial sync: %s has no ETag" % o.url
        # the raw report agrees, every member with an ETag, and equals a Depth 1 PROPFIND
        r, items, tok = sync_collection(raw, S.cal_url, "")
        assert r.status_code == 207, "sync-collection -> %s" % r.status_code
        assert tok, "no sync-token in the sync-collection answer"
        raw_set = {(path_of(h), text_of(p.get("{DAV:}getetag"))) for h, st, p in items if st != 404}
        pf = propfind(raw, S.cal_url, "<d:getetag/>", depth=1)
        pf_items, _ = parse_multistatus(pf.content)
        pf_set = {(path_of(h), text_of(p.get("{DAV:}getetag"))) for h, st, p in pf_items
                  if not same_path(h, S.cal_url)}
        assert raw_set == pf_set, "sync-collection and PROPFIND Depth 1 differ: %s" % (raw_set ^ pf_set)
        return "%d members, token %s" % (len(objs), str(S.sync_token)[-24:])

    def sync_incremental():
        changed, gone = S.extra[1], S.extra[0]
        changed.load()
        changed.icalendar_component["SUMMARY"] = "Check %s third (changed)" % run_id
        changed.save()
        gone.delete()
        S.made.remove(gone)
        upd = S.cal.objects_by_sync_token(sync_token=S.sync_token, load_objects=False, disable_fallback=True)
        assert upd.sync_token != S.sync_token, "sync token did not move"
        deleted = {path_of(u) for u in upd.deleted_urls}
        changed_hrefs = {path_of(o.url) for o in upd if path_of(o.url) not in deleted}
        assert changed_hrefs == {path_of(changed.url)}, "changed reported %s, want only %s" % (
            sorted(changed_hrefs), path_of(changed.url))
        assert deleted == {path_of(gone.url)}, "deleted reported %s, want only %s" % (sorted(deleted), path_of(gone.url))
        obj = [o for o in upd if path_of(o.url) == path_of(changed.url)][0]
        assert obj.props.get("{DAV:}getetag") == etag_of(changed.url), "reported ETag is not the current one"
        S.sync_token2 = upd.sync_token
        again = S.cal.objects_by_sync_token(sync_token=upd.sync_token, load_objects=False, disable_fallback=True)
        assert len(list(again)) == 0 and not again.deleted_urls, "a sync with nothing changed reported %s" % [
            str(o.url) for o in again]
        return "1 changed, 1 deleted, then nothing"

    def sync_limit():
        r, items, tok = sync_collection(raw, S.cal_url, "", limit=1)
        if r.status_code == 507 or (r.status_code == 403 and "number-of-matches-within-limits" in r.text):
            assert not wb, "DAV:limit refused (%s); the contract says a truncated answer" % r.status_code
            return "server refuses DAV:limit (%s), as RFC 6578 3.7 allows" % r.status_code
        assert r.status_code == 207, "sync-collection with DAV:limit -> %s" % r.status_code
        members = [i for i in items if i[1] != 507]
        truncated = [i for i in items if i[1] == 507]
        if len(members) > 1:
            C.expect(False, "DAV:limit 1 answered %d members (RFC 6578 3.7)" % len(members))
            return "DAV:limit ignored"
        if not truncated:
            C.expect(False, "DAV:limit 1 answered %d of %d+ members with no 507 for the collection, and a "
                     "token that skips the rest (RFC 6578 3.6)" % (len(members), len(S.made)))
            return "truncated without saying so"
        # continue from the token until complete
        seen = {path_of(h) for h, st, p in members}
        for _ in range(200):
            r, items, tok = sync_collection(raw, S.cal_url, tok, limit=1)
            assert r.status_code == 207, "continuing sync -> %s" % r.status_code
            seen |= {path_of(h) for h, st, p in items if st != 507 and st != 404}
            if not [i for i in items if i[1] == 507]:
                break
        want = {path_of(t.url) for t in S.made}
        assert want <= seen, "paged sync lacks %s" % (want - seen)
        return "truncated pages continued to the end"

    def bad_token():
        token = "http://example.invalid/ns/sync/not-a-token-%s" % run_id
        if S.sync_token and re.match(r"^[a-z]+:", str(S.sync_token)):
            token = re.sub(r"[^/]*$", "bogus%s" % run_id, str(S.sync_token))
        r, items, _ = sync_collection(raw, S.cal_url, token)
        allowed = (403,) if wb else (403, 409, 412)
        assert r.status_code in allowed, "an unknown sync token -> %s, want %s" % (r.status_code, allowed)
        assert "valid-sync-token" in r.text, "the refusal names no DAV:valid-sync-token: %r" % r.text[:300]
        return str(r.status_code)

    # --- search -------------------------------------------------------------------------------------
    def search_library():
        found = S.cal.search(todo=True, summary="%s buy milk" % run_id, include_completed=True)
        uids = [prop_text(vtodo_of(o.data), "UID") for o in found]
        assert uids == [S.uid], "search(todo=True, summary=...) found %s, want [%s]" % (uids, S.uid)
        found = S.cal.search(todo=True, category="errands", include_completed=True)
        uids = {prop_text(vtodo_of(o.data), "UID") for o in found}
        assert S.uid in uids and not ({"wbcheck-%s-1" % run_id} & uids), "search by category found %s" % uids

    def report(body):
        r = xml_request(raw, "REPORT", S.cal_url, body, depth=1)
        assert r.status_code == 207, "calendar-query -> %s %s" % (r.status_code, r.text[:200])
        items, _ = parse_multistatus(r.content)
        return {path_of(h) for h, st, p in items}

    def query(filter_xml):
        return report(
            '<?xml version="1.0" encoding="utf-8"?><c:calendar-query xmlns:d="DAV:" '
            'xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/></d:prop><c:filter>'
            '<c:comp-filter name="VCALENDAR"><c:comp-filter name="VTODO">%s</c:comp-filter>'
            "</c:comp-filter></c:filter></c:calendar-query>" % filter_xml)

    def search_raw():
        main, third = path_of(S.todo.url), path_of(S.extra[1].url)
        got = query('<c:prop-filter name="SUMMARY"><c:text-match collation="i;unicode-casemap">%s BUY MILK'
                    "</c:text-match></c:prop-filter>" % run_id)
        assert got == {main}, "SUMMARY text-match found %s, want %s" % (got, {main})
        got = query('<c:prop-filter name="STATUS"><c:text-match>IN-PROCESS</c:text-match></c:prop-filter>')
        assert third in got and main not in got, "STATUS text-match IN-PROCESS found %s" % got
        got = query('<c:prop-filter name="STATUS"><c:text-match negate-condition="yes">COMPLETED'
                    "</c:text-match></c:prop-filter>")
        assert main in got and third in got, "negated STATUS match lost pending todos: %s" % got
        got = query('<c:time-range start="20300115T090000Z" end="20300115T110000Z"/>')
        assert main in got, "a time-range around DTSTART/DUE misses the todo"
        got = query('<c:time-range start="20310101T000000Z" end="20310102T000000Z"/>')
        assert main not in got, "a time-range a year after DUE matches the todo"
        got = report(
            '<?xml version="1.0" encoding="utf-8"?><c:calendar-multiget xmlns:d="DAV:" '
            'xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/><c:calendar-data/></d:prop>'
            "<d:href>%s</d:href><d:href>%s</d:href></c:calendar-multiget>" % (
                urlsplit(str(S.todo.url)).path, urlsplit(str(S.extra[1].url)).path))
        assert got == {main, third}, "calendar-multiget answered %s" % got
        return "text-match, negate, time-range, multiget"

    def put_ics(name, ics, **headers):
        h = {"Content-Type": "text/calendar; charset=utf-8"}
        h.update(headers)
        return raw.put(S.cal_url + name, data=ics.encode("utf-8"), headers=h)

    def resource_name():
        name, uid = "client-chosen-%s.ics" % run_id, "wbcheck-%s-named@example.org" % run_id
        r = put_ics(name, todo_ics(uid, "Check %s named" % run_id), **{"If-None-Match": "*"})
        assert r.status_code in (201, 204), "PUT %s -> %s" % (name, r.status_code)
        S.named_url = S.cal_url + name
        g = raw.get(S.named_url)
        assert g.status_code == 200 and prop_text(vtodo_of(g.text), "UID") == uid, "GET %s -> %s" % (name, g.status_code)
        t = S.cal.todo_by_uid(uid)
        assert path_of(t.url) == path_of(S.named_url), "todo_by_uid found %s, want %s" % (path_of(t.url), path_of(S.named_url))
        # the same UID under another name is a conflict (RFC 4791 5.3.2.1 no-uid-conflict)
        r = put_ics("other-name-%s.ics" % run_id, todo_ics(uid, "Check %s twin" % run_id), **{"If-None-Match": "*"})
        if r.status_code in (200, 201, 204):
            raw.delete(S.cal_url + "other-name-%s.ics" % run_id)
        C.expect(r.status_code in (403, 409) and "no-uid-conflict" in r.text,
                 "the same UID under a second name -> %s (want 403/409 no-uid-conflict)" % r.status_code)
        raw.delete(S.named_url)
        return "UID %s at %s" % (uid, name)

    def invalid_refused():
        r = put_ics("broken-%s.ics" % run_id, "BEGIN:VCALENDAR\r\nthis is not iCalendar\r\n", **{"If-None-Match": "*"})
        if r.status_code in (200, 201, 204):
            raw.delete(S.cal_url + "broken-%s.ics" % run_id)
        assert 400 <= r.status_code < 500, "PUT of broken iCalendar -> %s" % r.status_code
        C.expect(r.status_code == 403 and "valid-calendar-data" in r.text,
                 "broken iCalendar -> %s without CALDAV:valid-calendar-data" % r.status_code)
        detail = str(r.status_code)
        if wb:
            r = put_ics("long-%s.ics" % run_id, todo_ics("wbcheck-%s-long" % run_id, "x" * 201), **{"If-None-Match": "*"})
            assert r.status_code == 403, "a SUMMARY of 201 characters -> %s, want 403 (title 1-200)" % r.status_code
            assert "<" in r.text and "error" in r.text, "403 without a DAV:error body: %r" % r.text[:200]
            for method in ("MKCALENDAR", "MKCOL"):
                r = raw.request(method, S.home + "new-%s/" % run_id)
                assert r.status_code == 403, "%s in the calendar home -> %s, want 403" % (method, r.status_code)
            detail += "; long title 403; MKCALENDAR/MKCOL 403"
        return detail

    # --- REST <-> CalDAV (Workbench) ------------------------------------------------------------
    def rest_mapping_extras():
        berlin = ["BEGIN:VTIMEZONE", "TZID:Europe/Berlin", "BEGIN:STANDARD", "DTSTART:19701025T030000",
                  "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU", "TZOFFSETFROM:+0200", "TZOFFSETTO:+0100", "TZNAME:CET",
                  "END:STANDARD", "BEGIN:DAYLIGHT", "DTSTART:19700329T020000", "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
                  "TZOFFSETFROM:+0100", "TZOFFSETTO:+0200", "TZNAME:CEST", "END:DAYLIGHT", "END:VTIMEZONE"]
        uid = "wbcheck-%s-tz" % run_id
        ics = todo_ics(uid, "Check %s berlin weekly" % run_id, priority=7, status="CANCELLED", due="20300301T090000")
        ics = ics.replace("DUE:20300301T090000", "DUE;TZID=Europe/Berlin:20300301T090000")
        ics = ics.replace("BEGIN:VTODO", "\r\n".join(berlin) + "\r\nBEGIN:VTODO", 1)
        r = put_ics(uid + ".ics", ics, **{"If-None-Match": "*"})
        assert r.status_code in (201, 204), "PUT with TZID, CANCELLED -> %s %s" % (r.status_code, r.text[:300])
        url = S.cal_url + uid + ".ics"
        try:
            found = rest.find_tasks("%s berlin weekly" % run_id)
            assert len(found) == 1, "REST found %d tasks" % len(found)
            t = found[0]
            assert (t.get("due_date") or "").startswith("2030-03-01T08:00:00"), "DUE 09:00 Europe/Berlin -> REST %r, want 08:00Z" % t.get("due_date")
            assert t["priority"] == "low", "PRIORITY 7 -> %r, want low" % t["priority"]
            assert t["status"] == "completed", "CANCELLED -> REST %r, want completed" % t["status"]
            c = vtodo_of(raw.get(url).text)
            assert prop_text(c, "STATUS") == "CANCELLED", "CANCELLED read back as %r" % prop_text(c, "STATUS")
            assert int(c.get("PRIORITY")) == 7, "PRIORITY 7 read back as %r" % c.get("PRIORITY")
        finally:
            raw.delete(url)
        return "TZID, PRIORITY 7, CANCELLED"

    def caldav_completion_recurs():
        uid = "wbcheck-%s-daily" % run_id
        r = put_ics(uid + ".ics", todo_ics(uid, "Check %s daily" % run_id, due="20300401T090000Z",
                                           extra=["RRULE:COUNT=3;FREQ=DAILY"]), **{"If-None-Match": "*"})
        assert r.status_code in (201, 204), "PUT of a recurring todo -> %s" % r.status_code
        url = S.cal_url + uid + ".ics"
        found = rest.find_tasks("%s daily" % run_id)
        assert len(found) == 1, "REST found %d tasks for the recurring todo" % len(found)
        rec = (found[0].get("recurrence") or "").upper()
        assert "FREQ=DAILY" in rec and "COUNT=3" in rec, "RRULE:COUNT=3;FREQ=DAILY -> REST recurrence %r" % found[0].get("recurrence")
        tok = S.cal.objects_by_sync_token(load_objects=False, disable_fallback=True).sync_token
        body = raw.get(url).text.replace("STATUS:NEEDS-ACTION", "STATUS:COMPLETED")
        r = raw.put(url, data=body.encode(), headers={"Content-Type": "text/calendar; charset=utf-8"})
        assert r.status_code in (200, 204), "completing over CalDAV -> %s" % r.status_code
        try:
            found = [t for t in rest.find_tasks("%s daily" % run_id)]
            S.rest_made.extend(t["id"] for t in found if t["status"] != "completed")
            nxt = [t for t in found if t["status"] == "pending"]
            assert len(nxt) == 1, "completing a recurring todo over CalDAV made %d next occurrences" % len(nxt)
            assert nxt[0]["due_date"].startswith("2030-04-02T09:00:00"), "next occurrence due %r" % nxt[0]["due_date"]
            upd = S.cal.objects_by_sync_token(sync_token=tok, load_objects=False, disable_fallback=True)
            got = {path_of(o.url) for o in upd}
            want = {path_of(url), path_of(S.cal_url + "workbench-task-%d.ics" % nxt[0]["id"])}
            assert got == want, "sync after the completion reported %s, want %s" % (sorted(got), sorted(want))
        finally:
            raw.delete(url)
        return "next occurrence task %d" % nxt[0]["id"]

    def rest_sees_caldav_todo():
        found = [t for t in rest.find_tasks("%s buy milk" % run_id)]
        assert len(found) == 1, "REST q= found %d tasks for the CalDAV todo" % len(found)
        t = found[0]
        S.main_task = t
        assert t["title"] == S.summary, "REST title %r, want %r" % (t["title"], S.summary)
        assert t["description"] == "Two litres, semi-skimmed", "REST description %r" % t["description"]
        assert t["status"] == "pending" and t["priority"] == "high", "REST status/priority %s/%s" % (t["status"], t["priority"])
        assert sorted(t["tags"]) == ["errands", "home"], "REST tags %r" % t["tags"]
        assert (t.get("due_date") or "").startswith("2030-01-15T10:00:00"), "REST due_date %r" % t.get("due_date")
        return "task %d" % t["id"]

    def rest_edit_keeps_client_data():
        before = etag_of(S.todo.url)
        tok = S.cal.objects_by_sync_token(load_objects=False, disable_fallback=True).sync_token
        rest.patch_task(S.main_task["id"], title="Check %s buy milk (REST)" % run_id, status="in_progress")
        c = vtodo_of(raw.get(str(S.todo.url)).text)
        assert prop_text(c, "SUMMARY") == "Check %s buy milk (REST)" % run_id, "SUMMARY %r after REST edit" % prop_text(c, "SUMMARY")
        assert prop_text(c, "STATUS") == "IN-PROCESS", "STATUS %r after REST status in_progress" % prop_text(c, "STATUS")
        assert int(c.get("PRIORITY")) == 1, "PRIORITY %r: the client's number must be kept" % c.get("PRIORITY")
        assert c.get(X_PROP) is not None and unescape_text(str(c.get(X_PROP))) == X_VALUE, "%s lost after a REST edit" % X_PROP
        assert len(c.walk("VALARM")) == 1, "VALARM lost after a REST edit"
        assert c.get("DTSTART") is not None, "DTSTART lost after a REST edit"
        after = etag_of(S.todo.url)
        assert after != before, "ETag unchanged after a REST edit"
        upd = S.cal.objects_by_sync_token(sync_token=tok, load_objects=False, disable_fallback=True)
        assert {path_of(o.url) for o in upd} == {path_of(S.todo.url)}, "sync after a REST edit reported %s" % [
            path_of(o.url) for o in upd]
        S.summary = "Check %s buy milk (REST)" % run_id

    def rest_task_appears():
        tok = S.cal.objects_by_sync_token(load_objects=False, disable_fallback=True).sync_token
        t = rest.create_task(title="Check %s from REST" % run_id, description="made over REST",
                             priority="low", tags=["Rest", "check"], due_date="2030-02-01T12:00:00Z")
        S.rest_made.append(t["id"])
        S.rest_task = t
        name = "workbench-task-%d" % t["id"]
        url = S.cal_url + name + ".ics"
        r = raw.get(url)
        assert r.status_code == 200, "GET %s -> %s" % (path_of(url), r.status_code)
        c = vtodo_of(r.text)
        assert prop_text(c, "UID") == name, "UID %r, want %r" % (prop_text(c, "UID"), name)
        assert prop_text(c, "SUMMARY") == "Check %s from REST" % run_id, "SUMMARY %r" % prop_text(c, "SUMMARY")
        assert prop_text(c, "STATUS") == "NEEDS-ACTION", "STATUS %r" % prop_text(c, "STATUS")
        assert 6 <= int(c.get("PRIORITY")) <= 9, "PRIORITY %r for low" % c.get("PRIORITY")
        assert categories_of(c) == ["check", "rest"], "CATEGORIES %r" % categories_of(c)
        due = c.decoded("DUE")
        due = due.astimezone(timezone.utc) if getattr(due, "tzinfo", None) else due
        assert due.strftime("%Y%m%dT%H%M%S") == "20300201T120000", "DUE %r" % c.get("DUE").to_ical()
        for p in ("DTSTAMP", "CREATED", "LAST-MODIFIED"):
            assert c.get(p) is not None, "no %s" % p
        upd = S.cal.objects_by_sync_token(sync_token=tok, load_objects=False, disable_fallback=True)
        assert {path_of(o.url) for o in upd} == {path_of(url)}, "sync after a REST create reported %s" % [
            path_of(o.url) for o in upd]
        S.rest_url = url
        return path_of(url)

    def caldav_edits_rest_task():
        t = S.cal.todo_by_uid("workbench-task-%d" % S.rest_task["id"])
        t.icalendar_component["SUMMARY"] = "Check %s from REST, edited in a client" % run_id
        t.icalendar_component["STATUS"] = "COMPLETED"
        t.save()
        got = rest.get_task(S.rest_task["id"])
        assert got and got["title"] == "Check %s from REST, edited in a client" % run_id, "REST title %r" % (got or {}).get("title")
        assert got["status"] == "completed" and got["completed_at"], "REST status %r / completed_at %r" % (
            got["status"], got.get("completed_at"))

    def deletes_both_ways():
        tok = S.cal.objects_by_sync_token(load_objects=False, disable_fallback=True).sync_token
        rest.delete_task(S.rest_task["id"])
        S.rest_made.remove(S.rest_task["id"])
        assert raw.get(S.rest_url).status_code == 404, "a task deleted over REST still answers GET"
        upd = S.cal.objects_by_sync_token(sync_token=tok, load_objects=False, disable_fallback=True)
        assert {path_of(u) for u in upd.deleted_urls} == {path_of(S.rest_url)}, "sync after a REST delete: deleted %s" % upd.deleted_urls
        t = S.cal.save_todo(todo_ics("wbcheck-%s-del" % run_id, "Check %s delete me" % run_id))
        found = rest.find_tasks("%s delete me" % run_id)
        assert len(found) == 1, "REST found %d tasks for a CalDAV todo" % len(found)
        t.delete()
        assert rest.get_task(found[0]["id"]) is None, "a todo deleted over CalDAV still answers over REST"

    def bearer_works():
        s = dav_session(a.username, a.token)
        s.auth = None
        s.headers["Authorization"] = "Bearer " + a.token
        r = propfind(s, S.cal_url, "<d:displayname/>")
        assert r.status_code == 207, "PROPFIND with Authorization: Bearer -> %s" % r.status_code

    # --- delete and auth --------------------------------------------------------------------------
    def delete():
        t = S.todo
        stale = '"wbcheck-stale-%s"' % run_id
        r = raw.delete(str(t.url), headers={"If-Match": stale})
        assert r.status_code == 412, "DELETE with a stale If-Match -> %s, want 412" % r.status_code
        t.delete()
        S.made.remove(t)
        assert raw.get(str(t.url)).status_code == 404, "GET after DELETE is not 404"
        uids = {prop_text(vtodo_of(x.data), "UID") for x in S.cal.todos(include_completed=True)}
        assert S.uid not in uids, "deleted todo still listed"
        r = raw.delete(str(t.url))
        assert r.status_code == 404, "DELETE of a deleted object -> %s, want 404" % r.status_code

    def wrong_password():
        wrong = a.account_password or ("not-" + a.token)
        s = dav_session(a.username, wrong)
        r = propfind(s, S.cal_url, "<d:displayname/>")
        assert r.status_code == 401, "PROPFIND with %s -> %s, want 401" % (
            "the account password" if a.account_password else "a wrong password", r.status_code)
        www = r.headers.get("WWW-Authenticate", "")
        assert "basic" in www.lower(), "401 without WWW-Authenticate: Basic (%r)" % www
        if wb:
            assert 'realm="Workbench"' in www, "WWW-Authenticate %r, want realm=\"Workbench\"" % www
        client = caldav.DAVClient(url=str(S.client.url), username=a.username, password=wrong)
        try:
            client.principal().calendars()
        except caldav_error.AuthorizationError:
            pass
        else:
            raise AssertionError("the caldav library signed in with a wrong password")
        return "401, %s" % www

    steps = [
        ("discovery: /.well-known/caldav redirects", well_known, False),
        ("discovery: principal() from the base URL", principal, True),
    ]
    if wb:
        steps.append(("layout: /dav/principals/<id>/ and DAV:principal-URL", principal_layout, True))
    steps += [
        ("discovery: calendar-home-set", home_set, True),
        ("OPTIONS: DAV compliance classes", options, False),
        ("every collection answers current-user-principal", current_user_principal_everywhere, False),
        ("calendars(): the personal VTODO calendar", calendars, True),
    ]
    if wb:
        steps.append(("project calendars named after their projects", project_calendars, False))
    steps += [
        ("calendar: sync-token, getctag, privileges", calendar_props, False),
        ("save_todo with an X- property and a VALARM", save_todo, True),
        ("read back: fields, X- property, VALARM kept", read_back, False),
        ("ETag strong, changes on edit; If-Match 412", etags, False),
        ("a VEVENT is refused (supported-calendar-component)", vevent_refused, False),
        ("a client's resource name kept; UID conflict refused", resource_name, False),
        ("invalid data refused with a precondition", invalid_refused, False),
        ("todos(include_completed=True)", listing, True),
        ("complete() a todo", complete, False),
        ("sync-collection: initial (every href + ETag)", sync_initial, False),
        ("sync-collection: exactly one change and one delete", sync_incremental, False),
        ("sync-collection: DAV:limit, truncated and continued", sync_limit, False),
        ("sync-collection: unknown token refused", bad_token, False),
        ("search(todo=True, summary/category)", search_library, False),
        ("calendar-query filters and calendar-multiget", search_raw, False),
    ]
    if wb:
        steps += [
            ("REST sees a CalDAV todo (mapping)", rest_sees_caldav_todo, False),
            ("REST edit keeps X-, VALARM, PRIORITY; ETag, sync", rest_edit_keeps_client_data, False),
            ("REST task at workbench-task-<id>.ics; sync", rest_task_appears, False),
            ("CalDAV edit of a REST task reaches REST", caldav_edits_rest_task, False),
            ("deletes both ways; sync reports them", deletes_both_ways, False),
            ("TZID due, PRIORITY 7, CANCELLED over REST", rest_mapping_extras, False),
            ("RRULE (parts in any order); completion recurs", caldav_completion_recurs, False),
            ("Authorization: Bearer accepted", bearer_works, False),
        ]
    steps.append(("delete()", delete, False))
    if a.no_auth_check:
        steps.append(("wrong password refused with 401", None, False))
    else:
        steps.append(("wrong password refused with 401", wrong_password, False))

    try:
        for name, fn, critical in steps:
            if fn is None:
                C.skip(name, "--no-auth-check")
                continue
            C.run(name, fn, critical=critical)
    except StopChecks as e:
        print("stopped: %s failed and the checks after it need it" % e)
    finally:
        if not a.keep:
            for t in list(S.made):
                try:
                    t.delete()
                except Exception:  # noqa: BLE001
                    pass
            for tid in S.rest_made:
                try:
                    rest.delete_task(tid)
                except Exception:  # noqa: BLE001
                    pass
    return C.summary()


if __name__ == "__main__":
    sys.exit(main())
