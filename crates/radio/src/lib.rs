//! The radio domain of Workbench.
//!
//! A [`Station`] relays one live source to any number of listeners, Icecast-style, and plays its
//! playlist when no source is live. [`RadioService`] holds the rules: stations by slug, public or
//! private (their owner and admins), managed by their owner or an admin; a source key of 256
//! bits known by its SHA-256, whose rotation cuts a connected source; playlists of the owner's
//! audio. [`relay`] hands the audio, cut on frame boundaries by [`frames`], to one writer per station and
//! thread that writes it to every listener's socket (`transmitter`). The
//! ports: [`StationRepository`], [`PlaylistFiles`] (the files domain), [`ListenerCensus`]
//! (counts across instances) and [`RadioEvents`] (the sockets' `radio:{slug}` topic). A listener
//! holds a slot among its address's (`addresses`) for as long as it listens, so that one host
//! cannot take every socket.

#![warn(missing_docs)]

mod access;
mod addresses;
mod census;
mod error;
pub mod frames;
mod known;
mod ports;
pub mod relay;
mod service;
mod station;
mod transmitter;

pub use access::{ACCESS_TOPIC, AccessChange};
pub use addresses::{AddressSlot, Addresses};
pub use census::LocalCensus;
pub use error::RadioError;
pub use ports::{ListenerCensus, PlaylistFiles, RadioEvents, StationRepository, Track};
pub use service::{Caller, Listening, MAX_PLAYLIST, OnAir, RadioService, SourceSession};
pub use station::{
    DESCRIPTION_MAX_CHARS, NAME_MAX_CHARS, NewStation, NowPlaying, SourceKey, Station, StationChanges, StationDraft,
    StationFormat, StationSlug, digest,
};
