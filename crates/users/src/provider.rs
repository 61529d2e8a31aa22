//! The sign-in providers Workbench knows, by name: what an OAuth identity and a pending second
//! factor are linked to.

use std::fmt;
use std::sync::Arc;

/// A configured way to sign in, by the name its routes carry (`/auth/oauth/{name}`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OAuthProviderName {
    /// Google, through OpenID Connect's userinfo.
    Google,
    /// GitHub, through its REST API's `/user` and `/user/emails`.
    GitHub,
    /// An OpenID Connect provider configured by name (`OIDC_PROVIDERS`): lower-case letters,
    /// digits and `-`, at most [`OAuthProviderName::MAX_LEN`] characters.
    Oidc(Arc<str>),
}

/// What kind of provider a name is, as `GET /auth/providers` tells a login page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    /// Google.
    Google,
    /// GitHub.
    GitHub,
    /// A configured OpenID Connect provider.
    Oidc,
}

impl ProviderKind {
    /// The kind as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Google => "google",
            ProviderKind::GitHub => "github",
            ProviderKind::Oidc => "oidc",
        }
    }
}

impl OAuthProviderName {
    /// The longest name an OpenID Connect provider may be configured with.
    pub const MAX_LEN: usize = 32;

    /// The provider's name in routes (`/auth/oauth/{provider}`) and in the database.
    pub fn as_str(&self) -> &str {
        match self {
            OAuthProviderName::Google => "google",
            OAuthProviderName::GitHub => "github",
            OAuthProviderName::Oidc(name) => name,
        }
    }

    /// What kind of provider this is.
    pub fn kind(&self) -> ProviderKind {
        match self {
            OAuthProviderName::Google => ProviderKind::Google,
            OAuthProviderName::GitHub => ProviderKind::GitHub,
            OAuthProviderName::Oidc(_) => ProviderKind::Oidc,
        }
    }

    /// The provider named `s`: `google`, `github`, or any other well-formed name (an OpenID
    /// Connect provider; whether one is configured under it is the service's question).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "google" => Some(OAuthProviderName::Google),
            "github" => Some(OAuthProviderName::GitHub),
            name if Self::is_valid_oidc_name(name) => Some(OAuthProviderName::Oidc(name.into())),
            _ => None,
        }
    }

    /// Whether `name` may name an OpenID Connect provider: 1 to 32 lower-case ASCII letters,
    /// digits and inner `-`, and not `google` or `github`.
    pub fn is_valid_oidc_name(name: &str) -> bool {
        !name.is_empty()
            && name.len() <= Self::MAX_LEN
            && !matches!(name, "google" | "github")
            && !name.starts_with('-')
            && !name.ends_with('-')
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    }
}

impl fmt::Display for OAuthProviderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An OpenID Connect provider's view of a sign-in: who (`issuer`, `subject`) and, when the
/// provider names its sessions, which one (`sid`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderSession {
    /// The provider's issuer identifier, exactly as its ID tokens carry it.
    pub issuer: String,
    /// The person at the provider (`sub`).
    pub subject: String,
    /// The provider's session id (`sid`), when it sent one.
    pub sid: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_to_their_kind() {
        assert_eq!(OAuthProviderName::parse("google"), Some(OAuthProviderName::Google));
        assert_eq!(OAuthProviderName::parse("github").map(|p| p.kind()), Some(ProviderKind::GitHub));
        let corp = OAuthProviderName::parse("corp-sso").unwrap();
        assert_eq!((corp.kind(), corp.as_str()), (ProviderKind::Oidc, "corp-sso"));
        for bad in ["", "Keycloak", "a b", "-x", "x-", "a/b", &"k".repeat(33)] {
            assert_eq!(OAuthProviderName::parse(bad), None, "{bad:?}");
        }
    }
}
