//! Radio stations: stations in the database, playlists played from the owner's audio through
//! the renditions (so a track is transcoded once and kept), events on the sockets' topics, and
//! the listener census. Wiring only: the rules stay in the radio domain.

use std::sync::Arc;

use async_trait::async_trait;
use futures_util::StreamExt;
use workbench_core::RepositoryError;
use workbench_files::{AudioCodec, FileId, FileService, Rendition, RenditionBody, RenditionService};
use workbench_radio::{LocalCensus, PlaylistFiles, RadioEvents, RadioService, StationFormat, Track};
use workbench_realtime::{Hub, Target, event_frame};
use workbench_store::{Database, DieselStationRepository};
use workbench_users::UserId;

/// The radio service.
pub fn service(db: &Database, files: &FileService, renditions: &RenditionService, hub: Hub) -> RadioService {
    RadioService::new(
        Arc::new(DieselStationRepository::new(db.clone())),
        Arc::new(OwnersAudio { files: files.clone(), renditions: renditions.clone() }),
        Arc::new(LocalCensus::default()),
        Arc::new(TopicEvents { hub }),
    )
}

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
        self.hub.publish(&Target::Topic(format!("radio:{slug}")), &frame).await;
    }
}
