//! Outbound webhook requests over HTTP (`reqwest`), as the [`WebhookSender`] port demands:
//!
//! - **no redirects**: a 3xx is the receiver's answer, recorded as a failed attempt;
//! - **15 s** from connecting to the last byte ([`DELIVERY_TIMEOUT`]);
//! - **no proxies** from the environment: a proxy would resolve the target itself, out of reach
//!   of the address check;
//! - **internal addresses refused at connect time**: every name is resolved by [`GuardedResolver`],
//!   which keeps only addresses that [`target::is_forbidden`] allows and refuses the request when
//!   none is left, so a name re-pointed at an internal address after the subscription was made
//!   (DNS rebinding) gets nowhere; an address written in the URL itself is checked before
//!   sending, since no resolver sees it. `WEBHOOK_ALLOW_PRIVATE_TARGETS=true` lifts the check.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use async_trait::async_trait;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use workbench_webhooks::{DELIVERY_TIMEOUT, OutgoingWebhook, SendError, WebhookSender, target};

/// The `User-Agent` of deliveries.
pub const USER_AGENT: &str = concat!("Workbench-Webhooks/", env!("CARGO_PKG_VERSION"));

/// A target the resolver refused; found again in the request's error chain.
#[derive(Debug)]
struct Forbidden(String);

impl std::fmt::Display for Forbidden {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} resolves only to private, loopback or link-local addresses", self.0)
    }
}

impl std::error::Error for Forbidden {}

/// Resolves with the system resolver, then drops every address deliveries must not reach.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    allow_private: bool,
}

impl GuardedResolver {
    /// `allow_private`: `WEBHOOK_ALLOW_PRIVATE_TARGETS`, which keeps every address.
    pub fn new(allow_private: bool) -> Self {
        Self { allow_private }
    }

    /// The addresses of `resolved` that deliveries may reach, or the refusal of `host` when none
    /// is left.
    fn keep_allowed(&self, host: &str, resolved: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, Forbidden> {
        let allowed: Vec<SocketAddr> =
            resolved.into_iter().filter(|addr| self.allow_private || !target::is_forbidden(addr.ip())).collect();
        if allowed.is_empty() { Err(Forbidden(host.to_owned())) } else { Ok(allowed) }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = *self;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> = if is_localhost(&host) {
                LOOPBACK.iter().map(|ip| SocketAddr::new(*ip, 0)).collect()
            } else {
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect()
            };
            let allowed = guard.keep_allowed(&host, resolved)?;
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// Where `localhost` points.
const LOOPBACK: [IpAddr; 2] = [IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)];

/// `localhost` and the names under it are loopback by definition (RFC 6761 §6.3), not by what a
/// resolver says: a machine without a `hosts` entry for it must not turn a refusal into a DNS
/// error, nor may a resolver point it elsewhere.
fn is_localhost(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    host == "localhost" || host.ends_with(".localhost")
}

/// Sends deliveries over HTTP(S).
#[derive(Debug, Clone)]
pub struct HttpWebhookSender {
    client: reqwest::Client,
    allow_private: bool,
}

impl HttpWebhookSender {
    /// `allow_private`: `WEBHOOK_ALLOW_PRIVATE_TARGETS`.
    pub fn new(allow_private: bool) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(DELIVERY_TIMEOUT)
            .connect_timeout(DELIVERY_TIMEOUT)
            .no_proxy()
            .user_agent(USER_AGENT)
            .dns_resolver(Arc::new(GuardedResolver::new(allow_private)))
            .build()?;
        Ok(Self { client, allow_private })
    }

    /// Refuses a URL whose host is an address deliveries must not reach.
    fn check_literal(&self, url: &url::Url) -> Result<(), SendError> {
        if self.allow_private {
            return Ok(());
        }
        let ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
            _ => return Ok(()),
        };
        if target::is_forbidden(ip) {
            return Err(SendError::Refused(format!("{ip} is a private, loopback or link-local address")));
        }
        Ok(())
    }
}

/// What went wrong, in one line: the refusal when the resolver refused, else the error and its
/// causes.
fn describe(error: &reqwest::Error) -> SendError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(forbidden) = e.downcast_ref::<Forbidden>() {
            return SendError::Refused(forbidden.to_string());
        }
        source = e.source();
    }
    if error.is_timeout() {
        return SendError::Failed(format!("no answer within {} s", DELIVERY_TIMEOUT.as_secs()));
    }
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    SendError::Failed(message)
}

#[async_trait]
impl WebhookSender for HttpWebhookSender {
    async fn send(&self, request: &OutgoingWebhook) -> Result<u16, SendError> {
        let url = url::Url::parse(&request.url).map_err(|e| SendError::Refused(format!("not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(SendError::Refused(format!("the scheme {:?} is not http(s)", url.scheme())));
        }
        self.check_literal(&url)?;
        let mut builder = self.client.post(url);
        for (name, value) in &request.headers {
            builder = builder.header(*name, value);
        }
        let response = builder.body(request.body.clone()).send().await.map_err(|e| describe(&e))?;
        // The body is not read: a receiver's answer is its status.
        Ok(response.status().as_u16())
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv6Addr};
    use std::str::FromStr;

    use super::*;

    fn at(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap(), 443)
    }

    /// Internal IPv4 addresses as the forms of IPv6 that carry them: NAT64, 6to4, and the
    /// deprecated site-local range.
    const DISGUISED: [&str; 6] =
        ["64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::1", "2002:a9fe:a9fe::", "2002:a00:1::1", "fec0::1"];

    #[test]
    fn localhost_names_are_loopback_whatever_the_resolver_says() {
        for name in ["localhost", "LocalHost.", "hooks.localhost"] {
            assert!(is_localhost(name), "{name}");
        }
        for name in ["localhost.example.com", "notlocalhost", "example.com"] {
            assert!(!is_localhost(name), "{name}");
        }
    }

    #[test]
    fn a_name_resolving_only_to_disguised_internal_addresses_is_refused() {
        let guard = GuardedResolver::new(false);
        for ip in DISGUISED {
            let refused = guard.keep_allowed("hooks.example.com", vec![at(ip)]);
            assert!(refused.is_err(), "{ip} must be refused");
        }
        let all = DISGUISED.iter().map(|ip| at(ip)).collect();
        assert!(guard.keep_allowed("hooks.example.com", all).is_err());
    }

    #[test]
    fn only_the_reachable_addresses_of_a_name_are_kept_unless_private_targets_are_allowed() {
        let resolved = vec![at("64:ff9b::7f00:1"), at("64:ff9b::101:101"), at("2002:a9fe:a9fe::1"), at("1.1.1.1")];
        let kept = GuardedResolver::new(false).keep_allowed("hooks.example.com", resolved.clone()).unwrap();
        assert_eq!(kept, [at("64:ff9b::101:101"), at("1.1.1.1")]);
        assert_eq!(GuardedResolver::new(true).keep_allowed("hooks.example.com", resolved.clone()).unwrap(), resolved);
    }

    #[tokio::test]
    async fn the_resolver_refuses_what_resolves_to_a_disguised_internal_address() {
        for ip in DISGUISED {
            // An address is its own resolution: the system resolver hands it back as it is.
            let name = Name::from_str(ip).unwrap();
            let error = match GuardedResolver::new(false).resolve(name).await {
                Ok(addrs) => panic!("{ip} resolved to {:?}", addrs.collect::<Vec<_>>()),
                Err(error) => error,
            };
            assert!(error.downcast_ref::<Forbidden>().is_some(), "{ip}: {error}");
        }
        let public = Name::from_str("64:ff9b::101:101").unwrap();
        let addrs: Vec<IpAddr> = GuardedResolver::new(false).resolve(public).await.unwrap().map(|a| a.ip()).collect();
        assert_eq!(addrs, [IpAddr::V6(Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0x101, 0x101))]);
    }

    #[tokio::test]
    async fn a_disguised_internal_address_written_in_the_url_is_refused_before_sending() {
        let sender = HttpWebhookSender::new(false).unwrap();
        for ip in DISGUISED {
            let url = url::Url::parse(&format!("http://[{ip}]:8080/hook")).unwrap();
            match sender.check_literal(&url) {
                Err(SendError::Refused(why)) => assert!(why.contains("private"), "{why}"),
                other => panic!("{ip} must be refused, got {other:?}"),
            }
        }
        let allowed = HttpWebhookSender::new(true).unwrap();
        assert_eq!(allowed.check_literal(&url::Url::parse("http://[64:ff9b::7f00:1]/").unwrap()), Ok(()));
    }
}
