//! Who may listen, as it changes: what every instance hears when a station's visibility, a
//! station itself or an account changes, and what a listener's writer can judge of it alone.

use workbench_users::{Role, UserId};

/// The bus topic of [`AccessChange`]s.
pub const ACCESS_TOPIC: &str = "radio.access";

/// A change to who may listen, announced on the bus ([`ACCESS_TOPIC`]) by the instance that made
/// it, so that a listener ends on every instance the moment its right does.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum AccessChange {
    /// A station's visibility as it is now: listeners who may no longer see it end.
    Station {
        /// The station.
        slug: String,
        /// Its owner, who may always listen.
        owner: UserId,
        /// Whether anyone may listen.
        public: bool,
    },
    /// A station deleted: its listeners end.
    Gone {
        /// The station deleted.
        slug: String,
    },
    /// An account changed (password, role, status): its listeners check it again.
    Account {
        /// The account that changed.
        user: UserId,
    },
    /// Changes may have been missed (the bus was down): every listener checks again.
    Missed,
}

impl AccessChange {
    /// The station a change is about, if it is about one.
    pub fn station(&self) -> Option<&str> {
        match self {
            Self::Station { slug, .. } | Self::Gone { slug } => Some(slug),
            Self::Account { .. } | Self::Missed => None,
        }
    }

    /// Whether someone who could see `slug` until now still may after this change: `who` is their
    /// account and role (`None`: anonymous). `None` when only the store can tell: their own account
    /// changed, or changes were missed.
    pub fn keeps(&self, slug: &str, who: Option<(UserId, Role)>) -> Option<bool> {
        match self {
            Self::Gone { slug: gone } => Some(gone != slug),
            Self::Station { slug: changed, owner, public } => {
                Some(changed != slug || *public || who.is_some_and(|(user, role)| user == *owner || role.is_admin()))
            }
            Self::Account { user } if who.is_some_and(|(id, _)| id == *user) => None,
            Self::Account { .. } => Some(true),
            Self::Missed => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_keeps_whom_the_station_s_rule_keeps_and_leaves_the_rest_to_the_store() {
        let (ann, bob) = (UserId(1), UserId(2));
        let private = AccessChange::Station { slug: "jazz".into(), owner: ann, public: false };
        assert_eq!(private.keeps("jazz", Some((ann, Role::User))), Some(true), "its owner");
        assert_eq!(private.keeps("jazz", Some((bob, Role::Admin))), Some(true), "an admin");
        assert_eq!(private.keeps("jazz", Some((bob, Role::User))), Some(false));
        assert_eq!(private.keeps("jazz", None), Some(false), "an anonymous listener");
        assert_eq!(private.keeps("rock", None), Some(true), "another station");
        let public = AccessChange::Station { slug: "jazz".into(), owner: ann, public: true };
        assert_eq!(public.keeps("jazz", None), Some(true));
        let gone = AccessChange::Gone { slug: "jazz".into() };
        assert_eq!(gone.keeps("jazz", Some((ann, Role::Admin))), Some(false));
        assert_eq!(gone.station(), Some("jazz"));
        let changed = AccessChange::Account { user: bob };
        assert_eq!(changed.keeps("jazz", Some((bob, Role::User))), None, "their own account: the store says");
        assert_eq!(changed.keeps("jazz", Some((ann, Role::User))), Some(true));
        assert_eq!(AccessChange::Missed.keeps("jazz", None), None);
        assert_eq!(AccessChange::Missed.station(), None);
    }
}
