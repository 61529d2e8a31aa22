//! Rate limits on the request path: which bucket a request draws from, the `RateLimit-*` headers
//! on every response of a limited route, and the `429` with an honest `Retry-After`.
//!
//! - Sign-in (with its second step), registration, refresh and the OAuth routes share one bucket
//!   per client address (`RATE_LIMIT_AUTH_PER_MINUTE`): password guessing and account spraying
//!   are slowed per source.
//! - Share-link downloads (`/s/{token}`) draw from a bucket per client address of their own at
//!   the same rate: a link's password is as guessable as an account's.
//! - Where a signed-in account confirms its current password (making a personal access token,
//!   changing the password, turning two-factor sign-in on or off), each request draws from a
//!   bucket of that account's own at the sign-in rate: whoever holds a stolen session guesses the
//!   password no faster than a login from one address can, from however many addresses.
//! - Every other authenticated request draws from its user's bucket, every other anonymous one
//!   from its client address's (`RATE_LIMIT_PER_MINUTE`); a personal access token, from its
//!   user's once its grant is cached on this instance (its address's for its first request).
//! - `/health`, `/ready` and `/metrics` are never limited: probes and scrapers must get through.
//!
//! The bucket follows the route the router will give the request, read from the path as the
//! router reads it (percent-decoded: `/auth/%6Cogin` is `/auth/login`), never from the raw text,
//! which a client may spell however it likes.
//!
//! The client address is the connection's peer, unless the peer is a trusted proxy
//! (`TRUSTED_PROXIES`); then it is the right-most address of `X-Forwarded-For` that is not a
//! trusted proxy (the left-most ones could be written by the client). IPv6 clients are grouped
//! by /64, since one host usually holds a whole /64.

use std::net::IpAddr;
use std::sync::{Arc, LazyLock};

use actix_web::dev::{ResourceDef, ServiceRequest};
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::{HttpMessage, HttpResponse, ResponseError};
use ipnet::IpNet;
use workbench_ratelimit::{Decision, Policy, RateLimiter};

use crate::problem::ApiError;
use crate::state::AppState;

const LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
const REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
const RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

/// The routes whose requests share the per-address sign-in bucket, matched as the router matches
/// them. Each lives under [`SIGN_IN_PREFIX`], so other requests are told apart by one comparison.
const SIGN_IN_ROUTES: [&str; 6] = [
    "/api/v1/auth/login",
    "/api/v1/auth/login/totp",
    "/api/v1/auth/register",
    "/api/v1/auth/refresh",
    "/api/v1/auth/oauth/{provider}",
    "/api/v1/auth/oauth/{provider}/callback",
];
const SIGN_IN_PREFIX: &str = "/api/v1/auth/";
static SIGN_IN: LazyLock<Vec<ResourceDef>> =
    LazyLock::new(|| SIGN_IN_ROUTES.iter().map(|r| ResourceDef::new(*r)).collect());
/// Where share-link downloads live (see `crate::files::links`).
const SHARE_PREFIX: &str = "/s/";
/// The operations that take the account's current password (`password` or `current_password`),
/// each a fixed path: a listing of tokens is not one of them, so the method is part of the match.
const PASSWORD_CONFIRMATIONS: [(Method, &str); 4] = [
    (Method::POST, "/api/v1/tokens"),
    (Method::PUT, "/api/v1/users/me/password"),
    (Method::POST, "/api/v1/auth/totp/enable"),
    (Method::POST, "/api/v1/auth/totp/disable"),
];
/// Routes that are never limited.
const UNLIMITED: [&str; 3] = ["/health", "/ready", "/metrics"];

/// The path the router matches `req` by: percent-decoded where decoding cannot change which
/// segments there are (an encoded `/` stays encoded).
pub fn routed_path(req: &ServiceRequest) -> &str {
    req.match_info().as_str()
}

/// Whether the router will send `path` to a sign-in route.
fn is_sign_in(path: &str) -> bool {
    path.starts_with(SIGN_IN_PREFIX) && SIGN_IN.iter().any(|route| route.is_match(path))
}

/// Whether `method` on `path` is an operation that takes the account's current password.
fn confirms_password(method: &Method, path: &str) -> bool {
    PASSWORD_CONFIRMATIONS.iter().any(|(m, p)| m == method && *p == path)
}

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(pub Arc<[IpNet]>);

impl TrustedProxies {
    /// The address of the client behind a request that arrived from `peer`.
    pub fn client_of(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let forwarded: Vec<IpAddr> = headers
            .get_all(HeaderName::from_static("x-forwarded-for"))
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|entry| entry.trim().parse::<IpAddr>().ok())
            .map(|ip| ip.to_canonical())
            .collect();
        // Right to left: each trusted hop vouches for the one before it.
        forwarded.iter().rev().find(|ip| !self.trusts(**ip)).or(forwarded.first()).copied().unwrap_or(peer)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }
}

/// The client address behind `req`, as the rate limits and the audit log see it: the peer's, or
/// the one a trusted proxy forwarded (`None` only for a request with no peer, as in unit tests).
pub fn client_address(req: &actix_web::HttpRequest) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    Some(match req.app_data::<actix_web::web::Data<TrustedProxies>>() {
        Some(proxies) => proxies.client_of(peer, req.headers()),
        None => peer,
    })
}

/// The bucket key of a client address: the address itself, or its /64 for IPv6
/// ([`workbench_core::address_group`]).
pub fn address_bucket(ip: IpAddr) -> String {
    match workbench_core::address_group(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("{v6}/64"),
    }
}

/// The limits this server applies; a policy of `None` is switched off.
pub struct Limits {
    pub limiter: Arc<dyn RateLimiter>,
    pub auth: Option<Policy>,
    pub general: Option<Policy>,
    pub proxies: TrustedProxies,
}

impl std::fmt::Debug for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limits").field("auth", &self.auth).field("general", &self.general).finish_non_exhaustive()
    }
}

/// Claims of a bearer token already verified here, so the handler's extractor does not verify
/// them again.
#[derive(Debug, Clone)]
pub struct VerifiedClaims(pub workbench_users::AccessClaims);

/// The `429` of a request its bucket refused, with whole seconds to wait, rounded up: a client
/// that waits this long is let through.
pub fn too_many_requests(decision: &Decision) -> HttpResponse {
    let wait = decision.retry_after.unwrap_or_default();
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut response = ApiError::new(
        actix_web::http::StatusCode::TOO_MANY_REQUESTS,
        "rate-limited",
        format!("Too many requests; try again in {seconds} s."),
    )
    .with_retry_after(seconds.max(1))
    .error_response();
    set_headers(response.headers_mut(), decision);
    response
}

/// The policy and bucket key of a request, or `None` when it is not limited.
pub fn bucket(req: &ServiceRequest, limits: &Limits, state: &AppState) -> Option<(Policy, String)> {
    let path = routed_path(req);
    if UNLIMITED.contains(&path) {
        return None;
    }
    let address = || {
        let peer = req.peer_addr().map_or(IpAddr::from([0, 0, 0, 0]), |a| a.ip());
        address_bucket(limits.proxies.client_of(peer, req.headers()))
    };
    if is_sign_in(path) {
        return limits.auth.map(|policy| (policy, address()));
    }
    if path.starts_with(SHARE_PREFIX) {
        return limits.auth.map(|policy| (policy, format!("share:{}", address())));
    }
    if confirms_password(req.method(), path) {
        // The account's own bucket; a request that names no account is refused before any
        // password is checked, and waits in its address's bucket meanwhile.
        let key = match bearer(req).and_then(|token| state.authenticator.verify(token).ok()) {
            Some(claims) => {
                let key = format!("confirm:user:{}", claims.user_id);
                req.extensions_mut().insert(VerifiedClaims(claims));
                key
            }
            None => format!("confirm:{}", address()),
        };
        return limits.auth.map(|policy| (policy, key));
    }
    let policy = limits.general?;
    // A personal access token draws from its user's bucket once its grant is cached (from its
    // first request on), and from its address's until then: no round trip is spent on choosing.
    if let Some(token) = bearer(req).filter(|token| workbench_tokens::is_personal_token(token)) {
        return Some(match state.tokens.cached_user(token) {
            Some(user) => (policy, format!("user:{user}")),
            None => (policy, address()),
        });
    }
    let verified = bearer(req).and_then(|token| state.authenticator.verify(token).ok());
    match verified {
        Some(claims) => {
            let key = format!("user:{}", claims.user_id);
            req.extensions_mut().insert(VerifiedClaims(claims));
            Some((policy, key))
        }
        None => Some((policy, address())),
    }
}

fn bearer(req: &ServiceRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The `RateLimit-*` headers of a decision.
pub fn set_headers(headers: &mut HeaderMap, decision: &Decision) {
    let reset = decision.reset.as_secs() + u64::from(decision.reset.subsec_nanos() > 0);
    headers.insert(LIMIT, HeaderValue::from(decision.limit));
    headers.insert(REMAINING, HeaderValue::from(decision.remaining));
    headers.insert(RESET, HeaderValue::from(reset));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies(list.iter().map(|n| n.parse().unwrap()).collect::<Vec<_>>().into())
    }

    fn forwarded(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(HeaderName::from_static("x-forwarded-for"), HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        let peer: IpAddr = "10.0.0.5".parse().unwrap();
        let headers = forwarded("203.0.113.9, 198.51.100.2");
        assert_eq!(proxies(&[]).client_of(peer, &headers), peer, "no trusted proxies: the peer");
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(trusted.client_of(peer, &headers).to_string(), "198.51.100.2", "the right-most untrusted entry");
        let chain = proxies(&["10.0.0.0/8", "198.51.100.0/24"]);
        assert_eq!(chain.client_of(peer, &headers).to_string(), "203.0.113.9", "through two trusted hops");
        assert_eq!(trusted.client_of(peer, &forwarded("not-an-ip")), peer);
        let outsider: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(trusted.client_of(outsider, &headers), outsider, "an untrusted peer's header is ignored");
    }

    #[test]
    fn sign_in_routes_are_known_by_their_route_however_spelt() {
        for path in ["/api/v1/auth/login", "/api/v1/auth/login/totp", "/api/v1/auth/oauth/github/callback"] {
            assert!(is_sign_in(path), "{path}");
        }
        for path in ["/api/v1/auth/me", "/api/v1/auth/login/x", "/api/v1/tasks", "/api/v1/auth/oauth/a/b/c"] {
            assert!(!is_sign_in(path), "{path}");
        }
    }

    #[test]
    fn password_confirmations_are_known_by_method_and_path() {
        assert!(confirms_password(&Method::POST, "/api/v1/tokens"));
        assert!(confirms_password(&Method::PUT, "/api/v1/users/me/password"));
        assert!(confirms_password(&Method::POST, "/api/v1/auth/totp/disable"));
        assert!(!confirms_password(&Method::GET, "/api/v1/tokens"), "listing tokens takes no password");
        assert!(!confirms_password(&Method::DELETE, "/api/v1/tokens/1"));
        assert!(!confirms_password(&Method::POST, "/api/v1/auth/totp/setup"));
    }

    #[actix_web::test]
    async fn the_router_s_path_is_decoded_and_decides() {
        let req = actix_web::test::TestRequest::post().uri("/api/v1/auth/%6Cogin").to_srv_request();
        assert_eq!(routed_path(&req), "/api/v1/auth/login");
        assert!(is_sign_in(routed_path(&req)));
        let encoded_slash = actix_web::test::TestRequest::post().uri("/api/v1/auth%2Flogin").to_srv_request();
        assert!(!is_sign_in(routed_path(&encoded_slash)), "an encoded slash is no path separator to the router");
    }

    #[test]
    fn ipv6_clients_share_a_bucket_per_64() {
        let a = address_bucket("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = address_bucket("2001:db8:1:2:bbbb::2".parse().unwrap());
        let c = address_bucket("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(address_bucket("::ffff:192.0.2.1".parse::<IpAddr>().unwrap().to_canonical()), "192.0.2.1");
    }
}
