//! Stations and their rules: slugs, formats, source keys, who may listen and who may manage.

use chrono::{DateTime, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use workbench_core::{BoundedText, FieldErrors, Validator, at_most_chars};
use workbench_users::{Principal, UserId};

use crate::frames::Framing;

/// A station's name in URLs: `[a-z0-9-]{1,64}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StationSlug(String);

impl StationSlug {
    /// A slug from what a client sent, exactly (no case folding); the message a `422` carries
    /// otherwise.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let ok = (1..=64).contains(&raw.len()) && raw.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-'));
        if ok { Ok(Self(raw.to_owned())) } else { Err("must be 1 to 64 characters of a-z, 0-9 and '-'") }
    }

    /// The slug.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for StationSlug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a station broadcasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StationFormat {
    /// MP3 frames.
    Mp3,
    /// Ogg (Vorbis or Opus from a source; Opus from the playlist).
    Ogg,
}

impl StationFormat {
    /// The format named `raw` (`mp3`, `ogg`), or the message a `422` carries.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        match raw {
            "mp3" => Ok(Self::Mp3),
            "ogg" => Ok(Self::Ogg),
            _ => Err("must be mp3 or ogg"),
        }
    }

    /// The format's name on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mp3 => "mp3",
            Self::Ogg => "ogg",
        }
    }

    /// The media type listeners receive.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Mp3 => "audio/mpeg",
            Self::Ogg => "audio/ogg",
        }
    }

    /// How a source's bytes in this format are cut into frames.
    pub fn framing(self) -> Framing {
        match self {
            Self::Mp3 => Framing::Mpeg,
            Self::Ogg => Framing::Ogg,
        }
    }

    /// Whether a source's `Content-Type` is this format (parameters ignored; a source that
    /// sends none is taken at its word).
    pub fn accepts(self, content_type: Option<&str>) -> bool {
        let Some(content_type) = content_type else { return true };
        let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        match self {
            Self::Mp3 => matches!(essence.as_str(), "audio/mpeg" | "audio/mp3" | "audio/mpeg3"),
            Self::Ogg => matches!(essence.as_str(), "audio/ogg" | "application/ogg" | "audio/opus" | "audio/vorbis"),
        }
    }
}

/// A station as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Station {
    /// The station's id.
    pub id: i64,
    /// Its name in URLs.
    pub slug: StationSlug,
    /// Its name, 1 to 100 characters.
    pub name: String,
    /// What it plays, if said (at most 2,000 characters).
    pub description: Option<String>,
    /// Who made it: they and admins manage it, and it plays their audio.
    pub owner_id: UserId,
    /// Whether anyone may listen; a private station is its owner's (and admins') alone.
    pub is_public: bool,
    /// What it broadcasts.
    pub format: StationFormat,
    /// What is on air now, if anyone said.
    pub now_playing: Option<NowPlaying>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

impl Station {
    /// Whether `viewer` may see and listen to it: a public station, or its owner, or an admin.
    pub fn visible_to(&self, viewer: Option<&Principal>) -> bool {
        self.is_public || viewer.is_some_and(|v| self.managed_by(v))
    }

    /// Whether `who` may change it: its owner or an admin.
    pub fn managed_by(&self, who: &Principal) -> bool {
        who.id == self.owner_id || who.role.is_admin()
    }
}

/// What is on air, as the owner or the source said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NowPlaying {
    /// The title.
    pub title: String,
    /// The artist, if known.
    pub artist: Option<String>,
    /// When it started.
    pub since: DateTime<Utc>,
}

/// What a client asks a new station to be.
#[derive(Debug, Clone, Default)]
pub struct StationDraft {
    /// The slug; required.
    pub slug: Option<String>,
    /// The name; required.
    pub name: Option<String>,
    /// The description; blank means none.
    pub description: Option<String>,
    /// Whether anyone may listen; public when missing.
    pub is_public: Option<bool>,
    /// `mp3` or `ogg`; `mp3` when missing.
    pub format: Option<String>,
}

/// A new station, its fields checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStation {
    /// The slug.
    pub slug: StationSlug,
    /// The name, trimmed.
    pub name: String,
    /// The description, trimmed; `None` when blank.
    pub description: Option<String>,
    /// Who makes it.
    pub owner_id: UserId,
    /// Whether anyone may listen.
    pub is_public: bool,
    /// What it broadcasts.
    pub format: StationFormat,
    /// The SHA-256 of its source key: the key itself is shown once and kept nowhere.
    pub key_digest: String,
    /// When it is made.
    pub created_at: DateTime<Utc>,
}

/// Changes to a station: absent fields stay.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StationChanges {
    /// A new name.
    pub name: Option<String>,
    /// `Some(None)` clears it.
    pub description: Option<Option<String>>,
    /// Make the station public (`true`) or private (`false`).
    pub is_public: Option<bool>,
}

/// The most characters a station's name, a title or an artist may have once trimmed.
pub const NAME_MAX_CHARS: usize = 100;

/// The most characters a station's description may have, counted as sent.
pub const DESCRIPTION_MAX_CHARS: usize = 2_000;

pub(crate) fn name(raw: &str) -> Result<String, String> {
    BoundedText::<NAME_MAX_CHARS>::parse(raw).map(BoundedText::into_inner).map_err(|e| e.to_string())
}

/// A description: at most 2,000 characters as sent (so the published `maxLength` is the rule),
/// kept trimmed; blank means none.
pub(crate) fn description(raw: &str) -> Result<String, String> {
    Ok(at_most_chars(raw, DESCRIPTION_MAX_CHARS)?.trim().to_owned())
}

impl StationDraft {
    pub(crate) fn parse(self, owner: UserId, key_digest: String) -> Result<NewStation, FieldErrors> {
        let mut v = Validator::default();
        let slug = v.required("slug", self.slug, |raw| StationSlug::parse(&raw));
        let name = v.required("name", self.name, |raw| name(&raw));
        let description = v.optional("description", self.description, |raw| description(&raw)).ok().flatten();
        let format = v.optional("format", self.format, |raw| StationFormat::parse(&raw)).ok().flatten();
        let parsed = slug.zip(name);
        v.finish_with(parsed).map(|(slug, name)| NewStation {
            slug,
            name,
            description: description.filter(|d| !d.is_empty()),
            owner_id: owner,
            is_public: self.is_public.unwrap_or(true),
            format: format.unwrap_or(StationFormat::Mp3),
            key_digest,
            created_at: workbench_users::now(),
        })
    }
}

/// A source's password: 256 random bits as 64 hex digits, shown once; stored as its SHA-256.
#[derive(Clone, PartialEq, Eq)]
pub struct SourceKey(String);

impl std::fmt::Debug for SourceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SourceKey(..)")
    }
}

impl SourceKey {
    /// A fresh key: 256 random bits, hex.
    pub fn generate() -> Self {
        let mut bytes = [0_u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(hex::encode(bytes))
    }

    /// The key, to show the owner once.
    pub fn reveal(&self) -> &str {
        &self.0
    }

    /// Its SHA-256, hex: what is stored and compared.
    pub fn digest(&self) -> String {
        digest(&self.0)
    }
}

/// The SHA-256 of a presented key, as stored.
pub fn digest(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_short_lower_case_words() {
        assert!(StationSlug::parse("night-owl-42").is_ok());
        for bad in ["", "Night", "a b", "é", &"a".repeat(65)] {
            assert!(StationSlug::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_count_once_trimmed_and_descriptions_as_sent() {
        // Schemathesis found `" " + 100 characters` accepted against a `maxLength` of 100: a name's
        // schema is now the trimmed-text pattern, and a description's bound counts what was sent.
        assert_eq!(name(&format!(" {} ", "é".repeat(100))).as_deref(), Ok("é".repeat(100).as_str()));
        assert!(name(&"é".repeat(101)).is_err());
        assert!(name(" \t").is_err());
        assert_eq!(description("  a quiet station \n").as_deref(), Ok("a quiet station"));
        assert_eq!(description(" ").as_deref(), Ok(""));
        assert!(description(&format!(" {}", "x".repeat(DESCRIPTION_MAX_CHARS))).is_err());
        assert!(description(&"x".repeat(DESCRIPTION_MAX_CHARS)).is_ok());
    }

    #[test]
    fn keys_are_256_bits_and_stored_hashed() {
        let key = SourceKey::generate();
        assert_eq!(key.reveal().len(), 64);
        assert_ne!(key.digest(), key.reveal());
        assert_eq!(key.digest(), digest(key.reveal()));
        assert_eq!(format!("{key:?}"), "SourceKey(..)");
    }

    #[test]
    fn formats_accept_their_media_types() {
        assert!(StationFormat::Mp3.accepts(Some("audio/mpeg")));
        assert!(StationFormat::Ogg.accepts(Some("application/ogg; charset=x")));
        assert!(!StationFormat::Mp3.accepts(Some("audio/ogg")));
        assert!(StationFormat::Ogg.accepts(None));
    }
}
