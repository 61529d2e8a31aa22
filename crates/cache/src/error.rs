/// Why Redis could not be used at start-up ([`connect`](crate::connect)) or by the readiness probe
/// ([`ping`](crate::ping)). The cache operations themselves never fail (see
/// [`TaskCache`](workbench_tasks::TaskCache)).
///
/// `url` is the server's address with any password masked; the probe, which only has the pool,
/// leaves it out.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The URL cannot be used (bad scheme, host, port or database number).
    #[error("invalid Redis URL {url}: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// No connection could be made, or the server refused the command (for example a wrong
    /// password). `reason` is the driver's own message, such as `Connection refused`.
    #[error("Redis{} is not reachable: {reason}", at(url.as_deref()))]
    Unreachable { url: Option<String>, reason: String },
    /// The server did not answer in time (it may be overloaded, or behind a firewall that drops
    /// packets). `reason` says which step timed out.
    #[error("Redis{} did not answer in time: {reason}", at(url.as_deref()))]
    Timeout { url: Option<String>, reason: String },
    /// The server answered `PING` with something other than `PONG`.
    #[error("Redis{} answered PING with {answer:?}", at(url.as_deref()))]
    UnexpectedAnswer { url: Option<String>, answer: String },
}

impl CacheError {
    /// The same error, naming the server it is about.
    pub(crate) fn at_url(mut self, address: &str) -> Self {
        match &mut self {
            CacheError::InvalidUrl { .. } => {}
            CacheError::Unreachable { url, .. }
            | CacheError::Timeout { url, .. }
            | CacheError::UnexpectedAnswer { url, .. } => *url = Some(address.to_owned()),
        }
        self
    }
}

fn at(url: Option<&str>) -> String {
    url.map(|u| format!(" at {u}")).unwrap_or_default()
}

/// `url` with the password (and user name) masked, fit for logs and error messages.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_masked() {
        assert_eq!(redact("redis://127.0.0.1:6379/0"), "redis://127.0.0.1:6379/0");
        assert_eq!(redact("redis://:s3cret@cache:6379/1"), "redis://***@cache:6379/1");
        assert_eq!(redact("rediss://user:p@ss@cache/2?x=1"), "rediss://***@cache/2?x=1");
        assert_eq!(redact("not a url"), "not a url");
    }

    #[test]
    fn messages_name_the_server_when_known() {
        let e = CacheError::Unreachable { url: None, reason: "Connection refused".into() };
        assert_eq!(e.to_string(), "Redis is not reachable: Connection refused");
        let e = e.at_url("redis://127.0.0.1:1");
        assert_eq!(e.to_string(), "Redis at redis://127.0.0.1:1 is not reachable: Connection refused");
    }
}
