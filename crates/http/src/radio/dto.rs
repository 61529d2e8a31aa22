//! Wire shapes of radio stations.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use workbench_core::{FieldErrors, TypeFailures};
use workbench_radio::{NAME_MAX_CHARS, OnAir, StationChanges, StationDraft};

use crate::body::{Lenient, WholeNumber, component, lenient, nullable, trimmed_text};
use crate::pagination::{PageNumberSchema, PageSizeSchema};

/// The schema of a station's name and of a title on air, as the radio reads them.
#[derive(Debug)]
pub struct RadioNameSchema;

component!(RadioNameSchema, "RadioName", trimmed_text(1, NAME_MAX_CHARS, "1 to 100 characters once trimmed"));

/// The schema of an artist on air: blank means none.
#[derive(Debug)]
pub struct ArtistSchema;

component!(
    ArtistSchema,
    "RadioArtist",
    trimmed_text(0, NAME_MAX_CHARS, "At most 100 characters once trimmed; blank means none")
);

/// What is on air, as last said.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NowPlayingResponse {
    pub title: String,
    pub artist: Option<String>,
    pub since: DateTime<Utc>,
}

/// A station.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StationResponse {
    pub id: i64,
    /// `[a-z0-9-]{1,64}`: its name in URLs.
    pub slug: String,
    pub name: String,
    pub description: Option<String>,
    pub owner_id: i64,
    pub is_public: bool,
    /// `mp3` or `ogg`.
    pub format: String,
    /// Whether a source is connected now.
    pub live: bool,
    /// Listeners now, across all instances.
    pub listeners: u64,
    pub now_playing: Option<NowPlayingResponse>,
    pub created_at: DateTime<Utc>,
}

impl From<OnAir> for StationResponse {
    fn from(on_air: OnAir) -> Self {
        let OnAir { station, live, listeners } = on_air;
        Self {
            id: station.id,
            slug: station.slug.to_string(),
            name: station.name,
            description: station.description,
            owner_id: station.owner_id.0,
            is_public: station.is_public,
            format: station.format.as_str().to_owned(),
            live,
            listeners,
            now_playing: station.now_playing.map(|n| NowPlayingResponse {
                title: n.title,
                artist: n.artist,
                since: n.since,
            }),
            created_at: station.created_at,
        }
    }
}

/// A new station, with the key its source connects with (shown only here).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreatedStationResponse {
    #[serde(flatten)]
    pub station: StationResponse,
    /// 256 random bits as 64 hex digits: the source's password (user `source`).
    pub source_key: String,
}

/// A new source key.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SourceKeyResponse {
    pub source_key: String,
}

fn finish<T>(failures: TypeFailures, value: T) -> Result<T, FieldErrors> {
    match FieldErrors::from_vec(failures.into_vec()) {
        Some(errors) => Err(errors),
        None => Ok(value),
    }
}

/// `POST /radio/stations`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct CreateStationRequest {
    #[schema(value_type = String, pattern = "^[a-z0-9-]{1,64}$", required = true)]
    #[serde(default)]
    pub slug: Lenient<String>,
    #[schema(value_type = RadioNameSchema, required = true)]
    #[serde(default)]
    pub name: Lenient<String>,
    /// At most 2,000 characters; blank or `null` means none.
    #[schema(value_type = Option<String>, max_length = 2000)]
    #[serde(default)]
    pub description: Lenient<String>,
    /// Default `true`.
    #[schema(value_type = bool, required = false)]
    #[serde(default)]
    pub is_public: Lenient<bool>,
    /// `mp3` (the default) or `ogg`.
    #[schema(value_type = String, required = false, pattern = "^(mp3|ogg)$")]
    #[serde(default)]
    pub format: Lenient<String>,
}

impl CreateStationRequest {
    pub fn into_draft(self) -> Result<StationDraft, FieldErrors> {
        let mut failures = TypeFailures::default();
        let draft = StationDraft {
            slug: lenient("slug", self.slug, &mut failures),
            name: lenient("name", self.name, &mut failures),
            description: nullable("description", self.description, &mut failures),
            is_public: lenient("is_public", self.is_public, &mut failures),
            format: lenient("format", self.format, &mut failures),
        };
        finish(failures, draft)
    }
}

/// `PATCH /radio/stations/{slug}`: fields left out are kept; `description: null` clears it.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct UpdateStationRequest {
    #[schema(value_type = RadioNameSchema, required = false)]
    #[serde(default)]
    pub name: Lenient<String>,
    /// At most 2,000 characters; `null` (or blank) clears it.
    #[schema(value_type = Option<String>, nullable, max_length = 2000)]
    #[serde(default)]
    pub description: Lenient<String>,
    #[schema(value_type = bool, required = false)]
    #[serde(default)]
    pub is_public: Lenient<bool>,
}

impl UpdateStationRequest {
    pub fn into_changes(self) -> Result<StationChanges, FieldErrors> {
        let mut failures = TypeFailures::default();
        let description = match self.description {
            Lenient::Absent => None,
            Lenient::Null => Some(None),
            Lenient::Valid(text) => Some(Some(text)),
            Lenient::Invalid(message) => {
                failures.record("description", message);
                None
            }
        };
        let changes = StationChanges {
            name: lenient("name", self.name, &mut failures),
            description,
            is_public: lenient("is_public", self.is_public, &mut failures),
        };
        finish(failures, changes)
    }
}

/// `PUT /radio/stations/{slug}/playlist`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct PlaylistRequest {
    /// Audio files of the station's owner, played in this order, looping.
    #[schema(value_type = Vec<i64>, required = true)]
    #[serde(default)]
    pub file_ids: Lenient<Vec<WholeNumber>>,
}

/// A station's playlist.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlaylistResponse {
    pub file_ids: Vec<i64>,
}

/// `POST /radio/stations/{slug}/now-playing`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct NowPlayingRequest {
    #[schema(value_type = RadioNameSchema, required = true)]
    #[serde(default)]
    pub title: Lenient<String>,
    #[schema(value_type = Option<ArtistSchema>)]
    #[serde(default)]
    pub artist: Lenient<String>,
}

/// `GET /radio/stations`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StationListQuery {
    #[param(value_type = Option<PageNumberSchema>, inline)]
    pub page: Option<i64>,
    #[param(value_type = Option<PageSizeSchema>, inline)]
    pub per_page: Option<i64>,
}

/// `GET /radio/{slug}/stream`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListenQuery {
    /// An access token of the station's owner or an admin: needed for a private station.
    #[param(nullable = false)]
    pub token: Option<String>,
}
