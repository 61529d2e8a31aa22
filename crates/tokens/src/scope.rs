//! What a personal access token may do: its scopes, each a kind of data and whether it may be
//! changed. `:write` implies `:read`, so a token granted `tasks:write` also reads tasks.

use std::fmt;

/// One scope a token can be granted, and a route can require.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Read the tasks the user sees, their comments, and search them (`GET /search`).
    TasksRead,
    /// Create, change and delete tasks and comments; implies `tasks:read`.
    TasksWrite,
    /// Read the user's projects, their members and statistics.
    ProjectsRead,
    /// Create and change projects, members and invitations; implies `projects:read`.
    ProjectsWrite,
    /// Read the catalogue, the user's items, the market and their trades.
    ProductsRead,
    /// Change the user's items and trade them; implies `products:read`.
    ProductsWrite,
    /// Read and download files the user may read, a task's attachments included.
    FilesRead,
    /// Upload, attach and delete files, and manage share links; implies `files:read`.
    FilesWrite,
    /// Read chat rooms, history and conversations, and search messages.
    ChatRead,
    /// Create rooms, add members, edit and delete messages, react, and move read marks; implies
    /// `chat:read`.
    ChatWrite,
    /// Manage the user's outbound webhook subscriptions.
    WebhooksWrite,
    /// Read the caller's own account and other users' profiles (lists, one user, `GET /auth/me`).
    ProfileRead,
}

impl Scope {
    /// Every scope, in the order the contract lists them.
    pub const ALL: [Scope; 12] = [
        Scope::TasksRead,
        Scope::TasksWrite,
        Scope::ProjectsRead,
        Scope::ProjectsWrite,
        Scope::ProductsRead,
        Scope::ProductsWrite,
        Scope::FilesRead,
        Scope::FilesWrite,
        Scope::ChatRead,
        Scope::ChatWrite,
        Scope::WebhooksWrite,
        Scope::ProfileRead,
    ];

    /// The scope's name, as granted and as a route declares it (`tasks:read`).
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::TasksRead => "tasks:read",
            Scope::TasksWrite => "tasks:write",
            Scope::ProjectsRead => "projects:read",
            Scope::ProjectsWrite => "projects:write",
            Scope::ProductsRead => "products:read",
            Scope::ProductsWrite => "products:write",
            Scope::FilesRead => "files:read",
            Scope::FilesWrite => "files:write",
            Scope::ChatRead => "chat:read",
            Scope::ChatWrite => "chat:write",
            Scope::WebhooksWrite => "webhooks:write",
            Scope::ProfileRead => "profile:read",
        }
    }

    /// The scope named `name` exactly (scope names are lower case).
    pub fn parse(name: &str) -> Result<Self, UnknownScope> {
        Self::ALL.into_iter().find(|s| s.as_str() == name).ok_or_else(|| UnknownScope(name.to_owned()))
    }

    /// The scope that granting this one grants too: a `:write` scope's `:read`.
    fn implied(self) -> Option<Scope> {
        match self {
            Scope::TasksWrite => Some(Scope::TasksRead),
            Scope::ProjectsWrite => Some(Scope::ProjectsRead),
            Scope::ProductsWrite => Some(Scope::ProductsRead),
            Scope::FilesWrite => Some(Scope::FilesRead),
            Scope::ChatWrite => Some(Scope::ChatRead),
            _ => None,
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is no scope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope {0:?} (the scopes are {names})", names = scope_names())]
pub struct UnknownScope(pub String);

fn scope_names() -> String {
    Scope::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
}

/// The scopes granted to one token, as granted (not widened by what they imply): a set that
/// costs a comparison to ask.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Scopes(u16);

impl Scopes {
    /// The set of `scopes`.
    pub fn of(scopes: impl IntoIterator<Item = Scope>) -> Self {
        Self(scopes.into_iter().fold(0, |bits, s| bits | s.bit()))
    }

    /// Reads names as stored: separated by spaces, as OAuth writes a `scope`.
    pub fn parse_stored(stored: &str) -> Result<Self, UnknownScope> {
        stored.split_ascii_whitespace().map(Scope::parse).collect::<Result<Vec<_>, _>>().map(Self::of)
    }

    /// Whether a token holding these scopes may do what `required` allows: granted as such, or
    /// implied by a granted `:write`.
    pub fn grants(self, required: Scope) -> bool {
        Scope::ALL
            .iter()
            .any(|held| self.0 & held.bit() != 0 && (*held == required || held.implied() == Some(required)))
    }

    /// Whether no scope is granted.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The scopes as granted, in the contract's order.
    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.0 & s.bit() != 0)
    }

    /// The names separated by spaces, as stored.
    pub fn to_stored(self) -> String {
        self.iter().map(Scope::as_str).collect::<Vec<_>>().join(" ")
    }
}

impl fmt::Debug for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter().map(Scope::as_str)).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scope_is_known_by_its_name_and_nothing_else_is() {
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Ok(scope));
        }
        assert!(Scope::parse("tasks:admin").is_err());
        assert!(Scope::parse("TASKS:READ").is_err(), "names are exact");
        assert!(Scope::parse("webhooks:read").is_err(), "the contract has no webhooks:read");
    }

    #[test]
    fn write_implies_read_and_nothing_else() {
        let granted = Scopes::of([Scope::TasksWrite, Scope::ProfileRead]);
        assert!(granted.grants(Scope::TasksWrite));
        assert!(granted.grants(Scope::TasksRead));
        assert!(granted.grants(Scope::ProfileRead));
        assert!(!granted.grants(Scope::ProjectsRead));
        assert!(!Scopes::of([Scope::TasksRead]).grants(Scope::TasksWrite), "read never implies write");
        assert!(!Scopes::of([Scope::FilesWrite]).grants(Scope::TasksRead));
    }

    #[test]
    fn stored_scopes_read_back_as_written() {
        let scopes = Scopes::of([Scope::ChatWrite, Scope::TasksRead]);
        assert_eq!(scopes.to_stored(), "tasks:read chat:write");
        assert_eq!(Scopes::parse_stored(&scopes.to_stored()), Ok(scopes));
        assert_eq!(Scopes::parse_stored(""), Ok(Scopes::default()));
        assert!(Scopes::parse_stored("tasks:read bogus").is_err());
    }
}
