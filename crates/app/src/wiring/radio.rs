//! Radio stations: stations in the database, playlists played from the owner's audio through
//! the renditions (so a track is transcoded once and kept), events on the sockets' topics, and
//! the listener census. Wiring only: the rules stay in the radio domain.

use std::sync::Arc;

use async_trait::async_trait;
use futures_util::StreamExt;
use tokio::sync::broadcast;
use workbench_core::RepositoryError;
use workbench_core::broadcast::Broadcast;
use workbench_files::{AudioCodec, FileId, FileService, Rendition, RenditionBody, RenditionService};
use workbench_presence::RedisListenerCensus;
use workbench_radio::{
    AccessChange, ListenerCensus, LocalCensus, PlaylistFiles, RadioEvents, RadioService, StationFormat, Track,
};
use workbench_realtime::{Hub, Target, event_frame};
use workbench_store::{Database, DieselStationRepository};
use workbench_users::{StoredAccounts, UserId, UserRepository};

use crate::config::Settings;

/// What the radio service is built from besides the settings.
pub struct RadioParts<'a> {
    pub db: &'a Database,
    pub redis: Option<&'a deadpool_redis::Pool>,
    pub bus: Arc<dyn Broadcast>,
    pub files: &'a FileService,
    pub renditions: &'a RenditionService,
    pub hub: Hub,
    pub users: Arc<dyn UserRepository>,
}

/// The radio service, with its listener counts in Redis when there is one (summed across
/// instances), and the task that relays other instances' live audio to this one's listeners.
pub fn service(settings: &Settings, parts: RadioParts<'_>) -> RadioService {
    let RadioParts { db, redis, bus, files, renditions, hub, users } = parts;
    let hub_for_topics = hub.clone();
    let instance = format!("radio-{}", uuid::Uuid::new_v4().simple());
    let census: Arc<dyn ListenerCensus> = match redis {
        Some(pool) => {
            Arc::new(RedisListenerCensus::start(pool.clone(), settings.redis.prefix.clone(), instance.clone()))
        }
        None => Arc::new(LocalCensus::default()),
    };
    let service = RadioService::new(
        Arc::new(DieselStationRepository::new(db.clone())),
        Arc::new(OwnersAudio { files: files.clone(), renditions: renditions.clone() }),
        census,
        Arc::new(TopicEvents { hub }),
        bus,
        // As stored, not as cached: a listener rechecks when its account changed, which is when
        // the principal cache may still hold what it was.
        Arc::new(StoredAccounts::new(users)),
        &instance,
    )
    .with_max_listeners_per_address(settings.radio.max_listeners_per_ip);
    tokio::spawn(service.clone().relay_other_instances());
    tokio::spawn(keep_station_topics_to_listeners(hub_for_topics, service.access_changes()));
    service
}

/// A station's events reach only sockets that may still listen to it, on every instance (the
/// changes come through the bus): when it turns private, its subscribers other than its owner and
/// admins are unsubscribed; when it is deleted, all of them; after changes were missed, every
/// station's subscribers who are not admins, to subscribe again (and be checked again). Each
/// hears why in an `error` event. An account whose role or password changed has its sockets
/// closed already.
async fn keep_station_topics_to_listeners(hub: Hub, mut changes: broadcast::Receiver<AccessChange>) {
    let notice = |topic: &str| {
        let slug = topic.strip_prefix(STATION_TOPIC).unwrap_or(topic);
        event_frame(
            "error",
            &serde_json::json!({
                "code": "not_found",
                "message": format!("No station {slug:?} to listen to any more: unsubscribed from {topic:?}."),
            }),
        )
    };
    loop {
        match changes.recv().await {
            Ok(AccessChange::Missed) | Err(broadcast::error::RecvError::Lagged(_)) => {
                hub.unsubscribe_unless(|t| t.starts_with(STATION_TOPIC), |_, role| role.is_admin(), notice);
            }
            Ok(change) => {
                if let Some(slug) = change.station() {
                    let topic = format!("{STATION_TOPIC}{slug}");
                    // The station's rule, as its listeners get it; what only the store can tell
                    // (an account's own change) closes that account's sockets anyway.
                    let keeps = |user, role| change.keeps(slug, Some((user, role))) != Some(false);
                    hub.unsubscribe_unless(|t| t == topic, keeps, notice);
                }
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// The topics of stations' events: `radio:{slug}`.
const STATION_TOPIC: &str = "radio:";

/// The owner's audio files, played as renditions in the station's format.
struct OwnersAudio {
    files: FileService,
    renditions: RenditionService,
}

/// What a playlist plays: 128 kbit/s MP3 for an MP3 station, Opus for an Ogg one.
fn rendition_for(format: StationFormat) -> Rendition {
    let codec = match format {
        StationFormat::Mp3 => AudioCodec::Mp3,
        StationFormat::Ogg => AudioCodec::Opus,
    };
    Rendition { codec, kbps: 128 }
}

fn unavailable(e: impl std::fmt::Display) -> RepositoryError {
    RepositoryError::Unavailable(anyhow::anyhow!("{e}"))
}

#[async_trait]
impl PlaylistFiles for OwnersAudio {
    async fn not_owned_audio(&self, owner: UserId, files: &[i64]) -> Result<Vec<i64>, RepositoryError> {
        let mut strangers = Vec::new();
        for &id in files {
            let file = self.files.find_owned(owner, FileId(id)).await.map_err(unavailable)?;
            if !file.is_some_and(|f| f.content_type.starts_with("audio/")) {
                strangers.push(id);
            }
        }
        Ok(strangers)
    }

    async fn track(&self, owner: UserId, file: i64, format: StationFormat) -> Result<Option<Track>, RepositoryError> {
        let Some(stored) = self.files.find_owned(owner, FileId(file)).await.map_err(unavailable)? else {
            return Ok(None);
        };
        let body = self.renditions.open_owned(&stored, rendition_for(format)).await.map_err(unavailable)?;
        let audio = match body {
            RenditionBody::Stored { read, .. } => read.body.map(|chunk| chunk.map_err(std::io::Error::other)).boxed(),
            RenditionBody::Live(live) => live.body,
        };
        Ok(Some(Track { title: stored.filename, audio }))
    }
}

/// `radio.*` events for the sockets subscribed to `radio:{slug}`, on every instance.
struct TopicEvents {
    hub: Hub,
}

#[async_trait]
impl RadioEvents for TopicEvents {
    async fn publish(&self, slug: &str, kind: &str, data: serde_json::Value) {
        let frame = event_frame(kind, &data);
        self.hub.publish(&Target::Topic(format!("{STATION_TOPIC}{slug}")), &frame).await;
    }
}
