//! What the radio domain needs from the outside world. Each method's doc says what an adapter
//! MUST do.

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use workbench_core::{Page, PageRequest, RepositoryError};
use workbench_users::UserId;

use crate::station::{NewStation, NowPlaying, Station, StationChanges, StationFormat};

/// Where stations live.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait StationRepository: Send + Sync {
    /// MUST answer `Conflict { field: "slug" }` for a slug taken, decided by a unique index.
    async fn insert(&self, station: NewStation) -> Result<Station, RepositoryError>;

    /// The station and the SHA-256 of its source key.
    async fn find(&self, slug: &str) -> Result<Option<(Station, String)>, RepositoryError>;

    /// Public stations and `viewer`'s own, newest first.
    async fn list(&self, viewer: UserId, page: PageRequest) -> Result<Page<Station>, RepositoryError>;

    /// Applies `changes` to station `id`; `None` when there is no such station.
    async fn update(&self, id: i64, changes: StationChanges) -> Result<Option<Station>, RepositoryError>;

    /// Deletes station `id` (its playlist with it); `false` when there was none.
    async fn delete(&self, id: i64) -> Result<bool, RepositoryError>;

    /// Replaces station `id`'s source key by the one whose SHA-256 is `digest`.
    async fn set_key(&self, id: i64, digest: String) -> Result<(), RepositoryError>;

    /// Records what station `id` plays now.
    async fn set_now_playing(&self, id: i64, now: NowPlaying) -> Result<(), RepositoryError>;

    /// Replaces the playlist with `files`, in order.
    async fn set_playlist(&self, id: i64, files: Vec<i64>) -> Result<(), RepositoryError>;

    /// Station `id`'s playlist: its owner's audio files, in order.
    async fn playlist(&self, id: i64) -> Result<Vec<i64>, RepositoryError>;
}

/// One track of a playlist, ready to play: its name and its audio in the station's format.
pub struct Track {
    /// What to announce as playing (the file's name).
    pub title: String,
    /// The track's audio in the station's format, as it is transcoded.
    pub audio: BoxStream<'static, std::io::Result<Bytes>>,
}

impl std::fmt::Debug for Track {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Track").field("title", &self.title).finish_non_exhaustive()
    }
}

/// The owner's audio files, as the files domain knows them.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait PlaylistFiles: Send + Sync {
    /// The ids among `files` that are not audio files owned by `owner`.
    async fn not_owned_audio(&self, owner: UserId, files: &[i64]) -> Result<Vec<i64>, RepositoryError>;

    /// The file transcoded to `format`, as the owner would stream it; `None` when it is gone.
    async fn track(&self, owner: UserId, file: i64, format: StationFormat) -> Result<Option<Track>, RepositoryError>;
}

/// How many listen, and whether a source is live, across every instance.
#[async_trait]
pub trait ListenerCensus: Send + Sync {
    /// This instance's count of `slug`'s listeners and whether its source is connected here.
    fn report(&self, slug: &str, listeners: u64, live: bool);

    /// Listeners of `slug` on every instance, and whether a source is live on any.
    async fn count(&self, slug: &str) -> (u64, bool);
}

/// Where `radio.*` events go: sockets subscribed to topic `radio:{slug}`, on every instance.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait RadioEvents: Send + Sync {
    /// Sends event `kind` (`radio.live`, `radio.now_playing`) with `data` to the sockets subscribed
    /// to `slug`'s topic.
    async fn publish(&self, slug: &str, kind: &str, data: serde_json::Value);
}
