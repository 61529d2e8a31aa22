//! Answers: the 207 multistatus of PROPFIND, PROPPATCH and REPORT (RFC 4918 §13, RFC 6578 §3),
//! and the `DAV:error` body of a failed precondition (RFC 4918 §16).

use std::borrow::Cow;

use crate::writer::{self, DECLARATION, ROOT_NAMESPACES};
use crate::{PropName, Value};

/// A multistatus answer, one `<D:response>` per resource, written as they are added.
#[derive(Debug, Default)]
pub struct Multistatus {
    responses: String,
    sync_token: Option<String>,
}

impl Multistatus {
    /// An answer with no responses yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The properties of the resource at `href`: those it has in a 200 propstat, those it lacks
    /// in a 404 one. A propstat with nothing in it is left out, unless both are empty: a
    /// response needs a propstat, so that one is an empty 200.
    pub fn propstat(&mut self, href: &str, found: Vec<(PropName, Value)>, missing: Vec<PropName>) {
        self.response(href, |out| {
            if !found.is_empty() || missing.is_empty() {
                propstat(out, 200, |out| {
                    for (name, value) in found {
                        writer::property(out, &name, &value);
                    }
                });
            }
            if !missing.is_empty() {
                propstat(out, 404, |out| empties(out, missing));
            }
        });
    }

    /// The names of the properties of the resource at `href`, for `<D:propname/>`: empty
    /// elements in a 200 propstat.
    pub fn propnames(&mut self, href: &str, names: Vec<PropName>) {
        self.response(href, |out| propstat(out, 200, |out| empties(out, names)));
    }

    /// A response with a status and no properties: 404 for a member a sync reports removed,
    /// 507 on the collection when a sync is truncated (RFC 6578 §3.6).
    pub fn status(&mut self, href: &str, status: u16) {
        self.response(href, |out| status_element(out, status));
    }

    /// A PROPPATCH that changed nothing because Workbench refuses to change these properties:
    /// 403 for each (RFC 4918 §9.2).
    pub fn proppatch_refused(&mut self, href: &str, names: Vec<PropName>) {
        self.proppatch_failed(href, names, Vec::new());
    }

    /// A PROPPATCH that changed nothing: 403 for the properties Workbench refuses, and 424 for
    /// the others, which it would have changed had the whole update been possible (RFC 4918
    /// §9.2 makes a PROPPATCH all or nothing).
    pub fn proppatch_failed(&mut self, href: &str, refused: Vec<PropName>, dependent: Vec<PropName>) {
        self.response(href, |out| {
            if !refused.is_empty() {
                propstat(out, 403, |out| empties(out, refused));
            }
            if !dependent.is_empty() {
                propstat(out, 424, |out| empties(out, dependent));
            }
        });
    }

    /// The token a sync-collection answer ends with; the last one set is written.
    pub fn sync_token(&mut self, token: &str) {
        self.sync_token = Some(token.to_owned());
    }

    /// The document.
    pub fn into_xml(self) -> String {
        let mut out = String::with_capacity(self.responses.len() + 512);
        out.push_str(DECLARATION);
        out.push_str("<D:multistatus");
        out.push_str(ROOT_NAMESPACES);
        out.push_str(">\n");
        out.push_str(&self.responses);
        if let Some(token) = &self.sync_token {
            writer::text(&mut out, &PropName::dav("sync-token"), token);
            out.push('\n');
        }
        out.push_str("</D:multistatus>\n");
        out
    }

    fn response(&mut self, href: &str, content: impl FnOnce(&mut String)) {
        writer::wrap(&mut self.responses, "response", |out| {
            writer::text(out, &PropName::dav("href"), href);
            content(out);
        });
        self.responses.push('\n');
    }
}

/// A `DAV:error` body (RFC 4918 §16) naming the precondition that failed, such as
/// `CALDAV:valid-calendar-data` (none for an error that is no precondition's, a 404 or a 401),
/// with a human-readable reason when there is one.
pub fn error_body(precondition: Option<&PropName>, reason: Option<&str>) -> String {
    let mut out = String::from(DECLARATION);
    out.push_str("<D:error");
    out.push_str(ROOT_NAMESPACES);
    out.push('>');
    if let Some(precondition) = precondition {
        writer::empty(&mut out, precondition);
    }
    if let Some(reason) = reason {
        writer::text(&mut out, &PropName::dav("responsedescription"), reason);
    }
    out.push_str("</D:error>\n");
    out
}

/// The status line of `status` (`HTTP/1.1 404 Not Found`); written once per response, so the
/// usual ones are constants.
pub fn status_line(status: u16) -> Cow<'static, str> {
    let line = match status {
        200 => "HTTP/1.1 200 OK",
        201 => "HTTP/1.1 201 Created",
        204 => "HTTP/1.1 204 No Content",
        400 => "HTTP/1.1 400 Bad Request",
        401 => "HTTP/1.1 401 Unauthorized",
        403 => "HTTP/1.1 403 Forbidden",
        404 => "HTTP/1.1 404 Not Found",
        409 => "HTTP/1.1 409 Conflict",
        412 => "HTTP/1.1 412 Precondition Failed",
        422 => "HTTP/1.1 422 Unprocessable Entity",
        423 => "HTTP/1.1 423 Locked",
        424 => "HTTP/1.1 424 Failed Dependency",
        500 => "HTTP/1.1 500 Internal Server Error",
        507 => "HTTP/1.1 507 Insufficient Storage",
        // The reason phrase is informative only (RFC 9112 §4): a bare code is a valid line.
        _ => return Cow::Owned(format!("HTTP/1.1 {status} ")),
    };
    Cow::Borrowed(line)
}

fn propstat(out: &mut String, status: u16, props: impl FnOnce(&mut String)) {
    writer::wrap(out, "propstat", |out| {
        writer::wrap(out, "prop", props);
        status_element(out, status);
    });
}

fn status_element(out: &mut String, status: u16) {
    writer::text(out, &PropName::dav("status"), &status_line(status));
}

fn empties(out: &mut String, names: Vec<PropName>) {
    for name in names {
        writer::empty(out, &name);
    }
}

#[cfg(test)]
mod tests;
