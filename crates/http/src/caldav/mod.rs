//! CalDAV (RFC 4791 on WebDAV, RFC 4918, with RFC 6578 collection sync and RFC 6764 discovery):
//! tasks in the task apps people already use. A driving adapter beside REST: it reads the
//! protocol, authenticates, and calls the calendars service, whose writes are the task domain's.
//! Its errors are `DAV:error` bodies (`errors.rs`), not problem documents.
//!
//! Paths are in [`paths`]; the properties each resource answers in `props.rs`; sign-in in `auth.rs`.

mod auth;
mod errors;
pub mod paths;
mod props;

use std::collections::HashMap;

use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use workbench_calendars::{Calendar, CalendarId, Change, ObjectData, Precondition, Written};
use workbench_dav::{Multistatus, PropRequest, Report, XmlError, parse_propfind, parse_proppatch, parse_report};
use workbench_tokens::Scope;

pub use errors::DavError;

use self::auth::Caller;
use self::errors::XML;
use self::paths::Resource;
use self::props::{MAX_OBJECT_BYTES, Target, answer, etag, wants_data};
use crate::state::AppState;

/// What `OPTIONS` and a `405` name.
const ALLOW: &str = "OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, REPORT";

/// Registers `/.well-known/caldav`, everything under `/dav`, and a `PROPFIND` of the server's
/// root, where a client given only the base URL starts (it is led to the DAV root).
pub fn configure(cfg: &mut web::ServiceConfig) {
    let propfind = Method::from_bytes(b"PROPFIND").expect("PROPFIND is a method name");
    cfg.service(web::resource("/.well-known/caldav").to(well_known))
        // A guard on the resource, not its route: any other method on `/` goes on to the 404.
        .service(web::resource("/").guard(actix_web::guard::Method(propfind)).to(well_known))
        .service(
            web::scope("/dav")
                .app_data(web::PayloadConfig::new(MAX_OBJECT_BYTES))
                .app_data(web::Data::new(auth::KnownNames::default()))
                // Resources, not the scope's default service: only they see the scope's data.
                .service(web::resource(["", "/{tail:.*}"]).to(dispatch)),
        );
}

/// RFC 6764 §5: the well-known URI leads to the DAV root, whatever the method (308 keeps it).
async fn well_known() -> HttpResponse {
    HttpResponse::PermanentRedirect().insert_header((header::LOCATION, paths::ROOT)).finish()
}

async fn dispatch(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
    names: web::Data<auth::KnownNames>,
) -> Result<HttpResponse, DavError> {
    let method = req.method().as_str().to_owned();
    if method == "OPTIONS" {
        return Ok(options());
    }
    let caller = auth::caller(&req, &state, &names).await?;
    if method == "MKCALENDAR" || method == "MKCOL" {
        // Wherever asked: no collection is made over DAV.
        return Err(DavError::forbidden(
            workbench_dav::PropName::caldav("calendar-collection-location-ok"),
            "Calendars are Workbench's projects: make one over the REST API (POST /api/v1/projects).",
        ));
    }
    let resource = paths::parse(req.path()).ok_or_else(DavError::not_found)?;
    let owner = match &resource {
        Resource::Root => None,
        Resource::Principal(user)
        | Resource::Home(user)
        | Resource::Calendar(user, _)
        | Resource::Object(user, _, _) => Some(*user),
    };
    // Another user's principal, home or calendars: not found, as if they did not exist.
    if owner.is_some_and(|owner| owner != caller.principal.id) {
        return Err(DavError::not_found());
    }
    let dav = Dav { caller, state: state.into_inner() };
    match method.as_str() {
        "PROPFIND" => dav.propfind(&req, resource, &body).await,
        "PROPPATCH" => dav.proppatch(resource, &body).await,
        "REPORT" => dav.report(resource, &body).await,
        "GET" | "HEAD" => dav.get(resource, req.method() == Method::HEAD).await,
        "PUT" => dav.put(&req, resource, &body).await,
        "DELETE" => dav.delete(&req, resource).await,
        _ => Err(DavError::not_allowed(ALLOW)),
    }
}

fn options() -> HttpResponse {
    HttpResponse::Ok().insert_header(("DAV", "1, 3, calendar-access")).insert_header((header::ALLOW, ALLOW)).finish()
}

fn multistatus(ms: Multistatus) -> HttpResponse {
    HttpResponse::build(StatusCode::MULTI_STATUS).content_type(XML).body(ms.into_xml())
}

fn xml_error(e: XmlError) -> DavError {
    match e {
        XmlError::UnsupportedCollation(collation) => DavError::forbidden(
            workbench_dav::PropName::caldav("supported-collation"),
            format!("The collation {collation} is not supported; use i;ascii-casemap or i;octet."),
        ),
        other => DavError::bad_request(other.to_string()),
    }
}

/// `Depth: 0` or `1` (`infinity`, or none, is answered as 1: nothing here is deeper).
fn depth_one(req: &HttpRequest) -> bool {
    req.headers().get("Depth").and_then(|v| v.to_str().ok()).is_none_or(|v| v.trim() != "0")
}

/// One request's caller and the services it reaches.
struct Dav {
    caller: Caller,
    state: std::sync::Arc<AppState>,
}

impl Dav {
    fn user(&self) -> workbench_users::UserId {
        self.caller.principal.id
    }

    /// A calendar of the caller's, as their membership and token allow at this request.
    async fn calendar(&self, id: CalendarId) -> Result<Calendar, DavError> {
        self.caller.needs(Scope::TasksRead)?;
        if matches!(id, CalendarId::Project(_)) {
            self.caller.needs(Scope::ProjectsRead)?;
        }
        Ok(self.state.calendars.calendar(&self.caller.principal, id).await?)
    }

    fn writable(&self, calendar: &Calendar) -> bool {
        calendar.writable() && self.caller.scopes.grants(Scope::TasksWrite)
    }

    async fn propfind(&self, req: &HttpRequest, resource: Resource, body: &[u8]) -> Result<HttpResponse, DavError> {
        let request = parse_propfind(body).map_err(xml_error)?;
        let deep = depth_one(req);
        let user = self.user();
        let mut ms = Multistatus::new();
        match resource {
            Resource::Root => {
                answer(&mut ms, paths::ROOT, user, &Target::Root, &request);
            }
            Resource::Principal(_) => {
                let account =
                    self.state.users.me(&self.caller.principal).await.map_err(|e| DavError::internal(e.into()))?;
                let target = Target::Principal { username: &account.username, email: &account.email };
                answer(&mut ms, &paths::principal(user), user, &target, &request);
            }
            Resource::Home(_) => {
                answer(&mut ms, &paths::home(user), user, &Target::Home, &request);
                if deep {
                    self.caller.needs(Scope::TasksRead)?;
                    let mut calendars = self.state.calendars.calendars(&self.caller.principal).await?;
                    // Project calendars are a token's to see only with projects:read.
                    if !self.caller.scopes.grants(Scope::ProjectsRead) {
                        calendars.retain(|c| matches!(c.id, CalendarId::Personal(_)));
                    }
                    for calendar in &calendars {
                        self.answer_calendar(&mut ms, calendar, &request).await?;
                    }
                }
            }
            Resource::Calendar(_, id) => {
                let calendar = self.calendar(id).await?;
                self.answer_calendar(&mut ms, &calendar, &request).await?;
                if deep {
                    if wants_data(&request) {
                        for object in self.state.calendars.read(&calendar, None).await? {
                            self.answer_object(&mut ms, id, &object, &request);
                        }
                    } else {
                        let (entries, _) = self.state.calendars.listing(&calendar, None).await?;
                        for entry in &entries {
                            let target = Target::Object { entry, data: None };
                            answer(&mut ms, &paths::object(user, id, &entry.name), user, &target, &request);
                        }
                    }
                }
            }
            Resource::Object(_, id, name) => {
                let calendar = self.calendar(id).await?;
                let object = self.state.calendars.get(&calendar, &name).await?;
                self.answer_object(&mut ms, id, &object, &request);
            }
        }
        Ok(multistatus(ms))
    }

    async fn answer_calendar(
        &self,
        ms: &mut Multistatus,
        calendar: &Calendar,
        request: &PropRequest,
    ) -> Result<(), DavError> {
        let token = self.state.calendars.token(calendar).await?;
        let target = Target::Calendar { calendar, token, writable: self.writable(calendar) };
        answer(ms, &paths::calendar(self.user(), calendar.id), self.user(), &target, request);
        Ok(())
    }

    fn answer_object(&self, ms: &mut Multistatus, calendar: CalendarId, object: &ObjectData, request: &PropRequest) {
        let entry = workbench_calendars::ObjectEntry {
            task_id: workbench_tasks::TaskId(0),
            name: object.name.clone(),
            version: object.version,
        };
        let target = Target::Object { entry: &entry, data: Some(&*object.data) };
        answer(ms, &paths::object(self.user(), calendar, &object.name), self.user(), &target, request);
    }

    /// Nothing here is written by `PROPPATCH`: names and colours are the projects' (REST). Each
    /// property is refused (RFC 4918 §9.2), so clients show what they could not set.
    async fn proppatch(&self, resource: Resource, body: &[u8]) -> Result<HttpResponse, DavError> {
        let names = parse_proppatch(body).map_err(xml_error)?;
        let href = match &resource {
            Resource::Calendar(_, id) => {
                self.calendar(*id).await?;
                paths::calendar(self.user(), *id)
            }
            Resource::Root => paths::ROOT.to_owned(),
            Resource::Principal(_) => paths::principal(self.user()),
            Resource::Home(_) => paths::home(self.user()),
            Resource::Object(_, id, name) => paths::object(self.user(), *id, name),
        };
        let mut ms = Multistatus::new();
        ms.proppatch_refused(&href, names);
        Ok(multistatus(ms))
    }

    async fn report(&self, resource: Resource, body: &[u8]) -> Result<HttpResponse, DavError> {
        let report = parse_report(body).map_err(xml_error)?;
        let id = match resource {
            Resource::Calendar(_, id) => id,
            _ => {
                return Err(DavError::forbidden(
                    workbench_dav::PropName::dav("supported-report"),
                    "Reports are answered on calendars.",
                ));
            }
        };
        let calendar = self.calendar(id).await?;
        let user = self.user();
        let mut ms = Multistatus::new();
        match report {
            Report::CalendarQuery { props, filter } => {
                for object in self.state.calendars.read(&calendar, None).await? {
                    let keep = match &filter {
                        None => true,
                        Some(filter) => parsed(&object.data).is_some_and(|c| filter.matches(&c)),
                    };
                    if keep {
                        self.answer_object(&mut ms, id, &object, &props);
                    }
                }
            }
            Report::CalendarMultiget { props, hrefs } => {
                let mut names = Vec::with_capacity(hrefs.len());
                let mut elsewhere = Vec::new();
                for href in hrefs {
                    match paths::parse(paths::href_path(&href)) {
                        Some(Resource::Object(owner, cal, name)) if owner == user && cal == id => {
                            names.push((href, name))
                        }
                        _ => elsewhere.push(href),
                    }
                }
                let wanted: Vec<String> = names.iter().map(|(_, name)| name.clone()).collect();
                let objects = self.state.calendars.read(&calendar, Some(&wanted)).await?;
                let objects: HashMap<&str, &ObjectData> = objects.iter().map(|o| (o.name.as_str(), o)).collect();
                for (href, name) in names {
                    match objects.get(name.as_str()) {
                        Some(object) => self.answer_object(&mut ms, id, object, &props),
                        None => ms.status(&href, 404),
                    }
                }
                for href in elsewhere {
                    // Not an object of this calendar (RFC 4791 §7.9: answered per href).
                    ms.status(&href, 404);
                }
            }
            Report::SyncCollection { token, limit, props } => {
                self.sync(&mut ms, &calendar, &token, limit.map(|l| l as usize), &props).await?;
            }
            Report::Unsupported(name) => {
                return Err(DavError::forbidden(
                    workbench_dav::PropName::dav("supported-report"),
                    format!("The report {name} is not supported here."),
                ));
            }
        }
        Ok(multistatus(ms))
    }

    /// RFC 6578: an empty token lists the calendar; a token gives what changed since, each task
    /// once, removals as `404`s; an answer cut at the limit ends with a `507` on the calendar and
    /// a token to go on from.
    async fn sync(
        &self,
        ms: &mut Multistatus,
        calendar: &Calendar,
        token: &str,
        limit: Option<usize>,
        props: &PropRequest,
    ) -> Result<(), DavError> {
        let user = self.user();
        let id = calendar.id;
        let (changes, next, truncated) = if token.trim().is_empty() {
            let (entries, next) = self.state.calendars.listing(calendar, limit).await?;
            let truncated = next.after.is_some();
            (entries.into_iter().map(Change::Changed).collect::<Vec<_>>(), next, truncated)
        } else {
            let since = self.state.calendars.changes(calendar, token, limit).await?;
            (since.changes, since.token, since.truncated)
        };
        let data = if wants_data(props) {
            let names: Vec<String> = changes
                .iter()
                .filter_map(|c| match c {
                    Change::Changed(entry) => Some(entry.name.clone()),
                    Change::Removed { .. } => None,
                })
                .collect();
            self.state.calendars.read(calendar, Some(&names)).await?
        } else {
            Vec::new()
        };
        let data: HashMap<&str, &ObjectData> = data.iter().map(|o| (o.name.as_str(), o)).collect();
        for change in &changes {
            match change {
                Change::Changed(entry) => {
                    let text = data.get(entry.name.as_str());
                    let target = Target::Object { entry, data: text.map(|o| &*o.data) };
                    answer(ms, &paths::object(user, id, &entry.name), user, &target, props);
                }
                Change::Removed { name } => ms.status(&paths::object(user, id, name), 404),
            }
        }
        if truncated {
            ms.status(&paths::calendar(user, id), 507);
        }
        ms.sync_token(&next.to_uri(id));
        Ok(())
    }

    async fn get(&self, resource: Resource, head: bool) -> Result<HttpResponse, DavError> {
        let Resource::Object(_, id, name) = resource else { return Err(DavError::not_allowed(ALLOW)) };
        let calendar = self.calendar(id).await?;
        let object = self.state.calendars.get(&calendar, &name).await?;
        let mut response = HttpResponse::Ok();
        response.content_type(props::CALENDAR_DATA_TYPE).insert_header((header::ETAG, etag(object.version)));
        if head {
            response.insert_header((header::CONTENT_LENGTH, object.data.len()));
            return Ok(response.finish());
        }
        Ok(response.body(object.data.to_string()))
    }

    async fn put(&self, req: &HttpRequest, resource: Resource, body: &[u8]) -> Result<HttpResponse, DavError> {
        let Resource::Object(_, id, name) = resource else {
            return Err(DavError::not_allowed(ALLOW));
        };
        let calendar = self.calendar(id).await?;
        self.caller.needs(Scope::TasksWrite)?;
        let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !content_type.is_empty() && !content_type.trim_start().to_ascii_lowercase().starts_with("text/calendar") {
            return Err(DavError::forbidden(
                workbench_dav::PropName::caldav("supported-calendar-data"),
                format!("A calendar object is text/calendar, not {content_type}."),
            ));
        }
        let text = std::str::from_utf8(body).map_err(|_| {
            DavError::forbidden(workbench_dav::PropName::caldav("valid-calendar-data"), "The object is not UTF-8 text.")
        })?;
        let precondition = precondition(req);
        let written = self.state.calendars.put(&self.caller.principal, &calendar, &name, text, precondition).await?;
        // No ETag: the object stored is not the bytes sent (RFC 4791 §5.3.4); clients read it back.
        Ok(match written {
            Written::Created => HttpResponse::Created().finish(),
            Written::Updated => HttpResponse::NoContent().finish(),
        })
    }

    async fn delete(&self, req: &HttpRequest, resource: Resource) -> Result<HttpResponse, DavError> {
        let Resource::Object(_, id, name) = resource else {
            return Err(DavError::need_privileges("Calendars are projects: delete one over the REST API."));
        };
        let calendar = self.calendar(id).await?;
        self.caller.needs(Scope::TasksWrite)?;
        if !calendar.writable() {
            return Err(DavError::need_privileges("a project's viewers read its tasks; editors delete them"));
        }
        self.state.calendars.delete(&self.caller.principal, &calendar, &name, precondition(req)).await?;
        Ok(HttpResponse::NoContent().finish())
    }
}

/// An object's text parsed for a filter; `None` for text that does not parse (never stored).
fn parsed(data: &str) -> Option<ical::parser::ical::component::IcalCalendar> {
    ical::IcalParser::new(data.as_bytes()).next()?.ok()
}

/// What `If-Match` and `If-None-Match` ask (RFC 9110 §13.1). ETags here are `"<version>"`.
fn precondition(req: &HttpRequest) -> Precondition {
    let header_value = |name: header::HeaderName| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if header_value(header::IF_NONE_MATCH) == Some("*") {
        return Precondition::Absent;
    }
    match header_value(header::IF_MATCH) {
        None => Precondition::None,
        Some("*") => Precondition::Exists,
        Some(tags) => tags
            .split(',')
            .map(|t| t.trim().trim_start_matches("W/").trim_matches('"'))
            .find_map(|t| t.parse::<i64>().ok())
            .map_or(Precondition::Never, Precondition::Version),
    }
}
