//! The sign-in providers Workbench knows, by name: what an OAuth identity and a pending second
//! factor are linked to.

use std::fmt;

/// The providers Workbench knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OAuthProviderName {
    /// Google, through OpenID Connect's userinfo.
    Google,
    /// GitHub, through its REST API's `/user` and `/user/emails`.
    GitHub,
}

impl OAuthProviderName {
    /// Every provider Workbench knows.
    pub const ALL: [OAuthProviderName; 2] = [OAuthProviderName::Google, OAuthProviderName::GitHub];

    /// The provider's name in routes (`/auth/oauth/{provider}`) and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            OAuthProviderName::Google => "google",
            OAuthProviderName::GitHub => "github",
        }
    }

    /// The provider named `s` (`google`, `github`), if Workbench knows it.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl fmt::Display for OAuthProviderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
