//! The live dashboard (`/dashboard/`): one page, its script and styles and the chart library,
//! compiled into the binary so that it works where nothing can be fetched from elsewhere. The
//! page is public; what it shows comes from the API and the WebSocket after signing in.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, get, web};

use crate::problem::ApiError;

/// A file the page loads, by its path under `/dashboard/`.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const PAGE: &str = include_str!("../static/dashboard/index.html");

const ASSETS: &[Asset] = &[
    Asset {
        path: "dashboard.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../static/dashboard/dashboard.js"),
    },
    Asset {
        path: "dashboard.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../static/dashboard/dashboard.css"),
    },
    Asset {
        path: "vendor/uPlot.iife.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../static/dashboard/vendor/uPlot.iife.min.js"),
    },
    Asset {
        path: "vendor/uPlot.min.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../static/dashboard/vendor/uPlot.min.css"),
    },
];

/// The page: sign in, then live charts of CPU, memory, network and requests, thresholds and
/// alerts (moderators and admins; anyone else is told so).
#[utoipa::path(
    tag = "system",
    operation_id = "get_dashboard",
    responses(
        (status = 200, description = "The dashboard page, with a Content-Security-Policy that lets it load and connect to this server only",
            body = String, content_type = "text/html"),
    )
)]
#[get("/dashboard/")]
pub async fn page(req: HttpRequest) -> HttpResponse {
    served(&req, "text/html; charset=utf-8", PAGE.as_bytes())
}

/// `/dashboard` without the slash: the page's relative links need it.
pub async fn redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect().insert_header((header::LOCATION, "/dashboard/")).finish()
}

/// A script, style sheet or the chart library, by its path under `/dashboard/`.
pub async fn asset(req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let asset = ASSETS
        .iter()
        .find(|a| a.path == path.as_str())
        .ok_or_else(|| ApiError::not_found(format!("No route matches {}.", req.path())))?;
    Ok(served(&req, asset.content_type, asset.body))
}

fn served(req: &HttpRequest, content_type: &'static str, body: &'static [u8]) -> HttpResponse {
    let mut response = HttpResponse::Ok()
        .content_type(content_type)
        // Small, and a new binary may change them: always revalidate.
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body);
    if let Ok(policy) = HeaderValue::from_str(&content_security_policy(req)) {
        response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    response
}

/// Only this server's scripts, styles and connections (the API and its WebSocket); no inline
/// code, no frames, no plugins. The WebSocket origin is spelled out for browsers whose `'self'`
/// does not cover `ws:`/`wss:` of the same host.
fn content_security_policy(req: &HttpRequest) -> String {
    let info = req.connection_info();
    let host = info.host();
    let sockets = if !host.is_empty()
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
    {
        format!(" ws://{host} wss://{host}")
    } else {
        String::new()
    };
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'{sockets}; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn the_policy_allows_this_host_only() {
        let req = TestRequest::default().insert_header((header::HOST, "wb.example.com:8443")).to_http_request();
        let policy = content_security_policy(&req);
        assert!(policy.starts_with("default-src 'none'; script-src 'self'; style-src 'self';"), "{policy}");
        assert!(policy.contains("connect-src 'self' ws://wb.example.com:8443 wss://wb.example.com:8443;"), "{policy}");
        let forged = TestRequest::default().insert_header((header::HOST, "x; script-src *")).to_http_request();
        assert!(content_security_policy(&forged).contains("connect-src 'self';"), "a strange Host adds nothing");
    }

    #[test]
    fn the_page_names_only_embedded_files() {
        for path in ["dashboard.js", "dashboard.css", "vendor/uPlot.iife.min.js", "vendor/uPlot.min.css"] {
            assert!(PAGE.contains(&format!("\"{path}\"")), "the page does not load {path}");
            assert!(ASSETS.iter().any(|a| a.path == path && !a.body.is_empty()), "{path} is not embedded");
        }
        assert!(!PAGE.contains("<script>") && !PAGE.contains("style="), "inline code would be refused by the policy");
    }
}
