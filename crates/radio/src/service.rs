//! `RadioService`: stations and their rules, sources and listeners, and the auto-DJ that plays
//! a station's playlist while no source is live.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::json;
use tokio::sync::broadcast;
use workbench_core::broadcast::{Broadcast, Delivery};
use workbench_core::{FieldErrors, Page, PageRequest, RepositoryError, Validator};
use workbench_users::{Accounts, PRINCIPAL_CHANGED, Principal, UserId};

use crate::access::{ACCESS_TOPIC, AccessChange};
use crate::addresses::{AddressSlot, Addresses, Slotted};
use crate::error::RadioError;
use crate::frames::{Framer, Framing};
use crate::known::Known;
use crate::ports::{ListenerCensus, PlaylistFiles, RadioEvents, StationRepository};
use crate::relay::{Relay, Relays, Tuned};
use crate::station::{
    NowPlaying, SourceKey, Station, StationChanges, StationDraft, StationSlug, description, digest, name,
};
use crate::transmitter::{self, Transmitter};

/// The most files a playlist holds.
pub const MAX_PLAYLIST: usize = 500;

/// The bus topic of live audio, relayed to the other instances' listeners.
pub const AUDIO_TOPIC: &str = "radio.audio";

/// Changes to who may listen that a listener may have waiting before it misses some (and then
/// checks everything again).
const ACCESS_QUEUE: usize = 64;

/// How often a connected source's key is checked against the store even when no key changed on
/// this instance (one may have on another).
const KEY_RECHECK: Duration = Duration::from_secs(5);

/// What a key's digest is compared with when its station does not exist: as long as a digest
/// (so that the comparison runs as far as a real one), and never one (those are hex).
const NO_STATION_DIGEST: &str = "no such station: a digest is hex, and these 64 bytes are not hex";

/// How long the auto-DJ plays on with nobody listening before it stops.
const IDLE_DJ: Duration = Duration::from_secs(5);

/// A station with what is happening on it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnAir {
    /// The station.
    pub station: Station,
    /// Whether a source is live on it, on any instance.
    pub live: bool,
    /// How many listen, across every instance.
    pub listeners: u64,
}

/// Radio: see the module documentation.
#[derive(Clone)]
pub struct RadioService {
    stations: Arc<dyn StationRepository>,
    files: Arc<dyn PlaylistFiles>,
    census: Arc<dyn ListenerCensus>,
    events: Arc<dyn RadioEvents>,
    relays: Arc<Relays>,
    /// Bumped when a station's key changes: a source that connected before it is cut.
    keys_changed: Arc<AtomicU64>,
    /// Live audio goes to the other instances through it.
    bus: Arc<dyn Broadcast>,
    /// This instance's name on the bus, so that it skips its own audio.
    instance: Arc<str>,
    /// Accounts as stored now, for listeners whose account changed.
    accounts: Arc<dyn Accounts>,
    /// Changes to who may listen, from any instance, for this instance's listeners.
    access: broadcast::Sender<AccessChange>,
    /// Stations as last read, for tune-ins; dropped by the changes above.
    known: Arc<Known>,
    /// This instance's listeners per address, and how many one may have.
    addresses: Arc<Addresses>,
}

impl std::fmt::Debug for RadioService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RadioService").finish_non_exhaustive()
    }
}

impl RadioService {
    /// The service: stations stored in `stations`, playlists played from `files`, listeners counted
    /// by `census` (across instances), events published to `events`, access changes announced on
    /// `bus`, accounts read from `accounts` when a listener's right is checked again; `instance`
    /// names this instance among those sharing the census.
    pub fn new(
        stations: Arc<dyn StationRepository>,
        files: Arc<dyn PlaylistFiles>,
        census: Arc<dyn ListenerCensus>,
        events: Arc<dyn RadioEvents>,
        bus: Arc<dyn Broadcast>,
        accounts: Arc<dyn Accounts>,
        instance: &str,
    ) -> Self {
        Self {
            stations,
            files,
            census,
            events,
            relays: Arc::default(),
            keys_changed: Arc::default(),
            bus,
            instance: instance.into(),
            accounts,
            access: broadcast::channel(ACCESS_QUEUE).0,
            known: Arc::default(),
            addresses: Arc::default(),
        }
    }

    /// At most `max` listeners at once from one address on this instance
    /// (`RADIO_MAX_LISTENERS_PER_IP`); `0`, as without this, is no limit.
    #[must_use]
    pub fn with_max_listeners_per_address(mut self, max: usize) -> Self {
        self.addresses = Arc::new(Addresses::new(max));
        self
    }

    /// Changes to who may listen, as this instance hears them from any instance: for what else
    /// must end with a listener's right, such as sockets subscribed to a station's events.
    pub fn access_changes(&self) -> broadcast::Receiver<AccessChange> {
        self.access.subscribe()
    }

    /// Feeds this instance's relays with the audio of sources connected to other instances,
    /// until the bus goes. Run once per instance.
    pub async fn relay_other_instances(self) {
        let mut subscription = self.bus.subscribe();
        let mut framers: std::collections::HashMap<String, Framer> = std::collections::HashMap::new();
        while let Some(delivery) = subscription.recv().await {
            let message = match delivery {
                Delivery::Message(message) => message,
                // Changes may have been missed while the bus was down: every listener checks again.
                Delivery::Restored => {
                    // Rows read while changes were lost go first; only then are rows kept again.
                    self.heard(AccessChange::Missed);
                    self.known.losing(false);
                    continue;
                }
                Delivery::Lost => {
                    self.known.losing(true);
                    continue;
                }
            };
            if message.topic == ACCESS_TOPIC {
                if let Ok(change) = serde_json::from_slice::<AccessChange>(&message.payload) {
                    self.heard(change);
                }
                continue;
            }
            if message.topic == PRINCIPAL_CHANGED {
                if let Some(user) = std::str::from_utf8(&message.payload).ok().and_then(|s| s.parse().ok()) {
                    self.heard(AccessChange::Account { user: UserId(user) });
                }
                continue;
            }
            if message.topic != AUDIO_TOPIC {
                continue;
            }
            let Some((slug, instance, audio)) = decode_audio(&message.payload) else { continue };
            if instance == &*self.instance {
                continue;
            }
            let framing = if audio.starts_with(b"OggS") { Framing::Ogg } else { Framing::Mpeg };
            let relay = self.relays.get(slug, framing);
            if audio.is_empty() {
                // The source went: listeners here go on with the playlist, as there.
                framers.remove(slug);
                relay.remote_ended();
                relay.restart();
                self.resume_playlist(slug, &relay).await;
                continue;
            }
            relay.heard_remote();
            let framer = framers.entry(slug.to_owned()).or_insert_with(|| Framer::new(relay.framing()));
            relay.push(framer.feed(audio));
        }
    }

    /// Plays the playlist to the listeners of `relay`, if it has listeners and a playlist.
    async fn resume_playlist(&self, slug: &str, relay: &Arc<Relay>) {
        if relay.listeners() > 0
            && let Ok(Some((station, _))) = self.stations.find(slug).await
            && let Ok(playlist) = self.stations.playlist(station.id).await
            && !playlist.is_empty()
        {
            self.start_dj(&station, relay, playlist);
        }
    }

    /// Tells this instance's listeners at once, and the other instances' through the bus (a
    /// listener here that hears it twice checks twice, which changes nothing).
    async fn announce(&self, change: AccessChange) {
        // Here first: this instance must not serve the row it just changed while the bus takes
        // its time.
        let payload = serde_json::to_vec(&change);
        self.heard(change);
        if let Ok(payload) = payload {
            self.bus.publish(ACCESS_TOPIC, payload).await;
        }
    }

    /// A change heard, from this instance or another: the stations kept for tune-ins that it may
    /// have made stale are dropped before this instance's listeners hear it. An account's change
    /// may be its deletion, which takes the owner's stations with it and says nothing of them:
    /// those the store no longer has are announced gone here.
    fn heard(&self, change: AccessChange) {
        let owned = self.known.heard(&change);
        let _ = self.access.send(change);
        if owned.is_empty() {
            return;
        }
        let service = self.clone();
        tokio::spawn(async move {
            for slug in owned {
                // A store that cannot answer is asked again: the station's listeners must not
                // outlive it for a blip.
                let mut wait = Duration::from_millis(250);
                let found = loop {
                    match service.stations.find(&slug).await {
                        Ok(found) => break Some(found),
                        Err(_) if wait < Duration::from_secs(30) => {
                            tokio::time::sleep(wait).await;
                            wait *= 2;
                        }
                        Err(e) => {
                            tracing::warn!(station = %slug, error = %e, "cannot tell whether a station went with its owner");
                            break None;
                        }
                    }
                };
                if let Some(None) = found {
                    service.relays.remove(&slug);
                    service.heard(AccessChange::Gone { slug });
                }
            }
        });
    }

    /// `change` as if heard from another instance (tests).
    #[cfg(test)]
    pub(crate) fn hear(&self, change: AccessChange) {
        self.heard(change);
    }

    /// The relay of `slug` on this instance (tests feed it audio).
    #[cfg(test)]
    pub(crate) fn relay(&self, slug: &str) -> Arc<Relay> {
        self.relays.get(slug, Framing::Mpeg)
    }

    /// Reads the listener's account and the station again: the listener goes on only as the
    /// same token generation and role, on a station it may still see.
    pub(crate) async fn recheck(&self, slug: &str, viewer: Option<&Principal>) -> bool {
        if let Some(v) = viewer {
            match self.accounts.account(v.id).await {
                Ok(Some(now))
                    if now.is_active() && now.token_generation == v.token_generation && now.role == v.role => {}
                Ok(_) => return false,
                // The store cannot say now: keep the listener rather than cut everyone at a blip.
                Err(_) => return true,
            }
        }
        !matches!(self.visible(viewer, slug).await, Err(RadioError::NotFound))
    }

    async fn send_to_other_instances(&self, slug: &str, chunks: Vec<(Bytes, Duration)>) {
        for (chunk, _) in chunks {
            self.bus.publish(AUDIO_TOPIC, encode_audio(slug, &self.instance, &chunk)).await;
        }
    }

    /// A new station owned by the caller, and its source key (shown only now).
    pub async fn create(&self, caller: &Principal, draft: StationDraft) -> Result<(OnAir, SourceKey), RadioError> {
        let key = SourceKey::generate();
        let new = draft.parse(caller.id, key.digest())?;
        let station = self.stations.insert(new).await.map_err(|e| match e {
            RepositoryError::Conflict { .. } => RadioError::SlugTaken,
            e => e.into(),
        })?;
        Ok((OnAir { station, live: false, listeners: 0 }, key))
    }

    /// Public stations and the caller's own.
    pub async fn list(&self, caller: &Principal, page: PageRequest) -> Result<Page<OnAir>, RadioError> {
        let page = self.stations.list(caller.id, page).await?;
        let mut items = Vec::with_capacity(page.items.len());
        for station in page.items {
            items.push(self.on_air(station).await);
        }
        Ok(Page::new(items, page.total, page.request))
    }

    /// A station the caller may see.
    pub async fn get(&self, caller: &Principal, slug: &str) -> Result<OnAir, RadioError> {
        let station = self.visible(Some(caller), slug).await?;
        Ok(self.on_air(station).await)
    }

    /// Changes a station's name, description or visibility: its owner and admins may. Listeners who
    /// may no longer listen are cut off, on every instance.
    pub async fn update(&self, caller: &Principal, slug: &str, changes: StationChanges) -> Result<OnAir, RadioError> {
        let station = self.managed(caller, slug).await?;
        let mut v = Validator::default();
        let name = v.optional("name", changes.name, |raw| name(&raw)).ok().flatten();
        let description = match changes.description {
            Some(Some(raw)) => v.check("description", description(&raw)).map(|d| Some(d).filter(|d| !d.is_empty())),
            Some(None) => Some(None),
            None => None,
        };
        v.finish()?;
        let changes = StationChanges { name, description, is_public: changes.is_public };
        let station = self.stations.update(station.id, changes).await?.ok_or(RadioError::NotFound)?;
        // Announced whatever changed: listeners who may no longer see it end, and every instance
        // reads the station afresh at its next tune-in (one turned public is heard at once).
        let change = AccessChange::Station {
            slug: station.slug.as_str().to_owned(),
            owner: station.owner_id,
            public: station.is_public,
        };
        self.announce(change).await;
        Ok(self.on_air(station).await)
    }

    /// Deletes a station: its owner and admins may. Its listeners are cut off, on every instance.
    pub async fn delete(&self, caller: &Principal, slug: &str) -> Result<(), RadioError> {
        let station = self.managed(caller, slug).await?;
        self.stations.delete(station.id).await?;
        self.keys_changed.fetch_add(1, Ordering::AcqRel);
        self.relays.remove(slug);
        self.announce(AccessChange::Gone { slug: slug.to_owned() }).await;
        Ok(())
    }

    /// A new source key; the old one stops working, and a source connected with it is cut.
    pub async fn rotate_key(&self, caller: &Principal, slug: &str) -> Result<SourceKey, RadioError> {
        let station = self.managed(caller, slug).await?;
        let key = SourceKey::generate();
        self.stations.set_key(station.id, key.digest()).await?;
        self.keys_changed.fetch_add(1, Ordering::AcqRel);
        Ok(key)
    }

    /// Replaces the playlist: audio files the owner owns, in order.
    pub async fn set_playlist(&self, caller: &Principal, slug: &str, files: Vec<i64>) -> Result<Vec<i64>, RadioError> {
        let station = self.managed(caller, slug).await?;
        if files.len() > MAX_PLAYLIST {
            return Err(FieldErrors::single("file_ids", format!("holds at most {MAX_PLAYLIST} files")).into());
        }
        let strangers = self.files.not_owned_audio(station.owner_id, &files).await?;
        if !strangers.is_empty() {
            // One message whatever the ids, so that clients (and the fuzzer) can match it.
            return Err(FieldErrors::single("file_ids", "must be audio files of the station's owner").into());
        }
        self.stations.set_playlist(station.id, files.clone()).await?;
        Ok(files)
    }

    /// Says what is on air: the owner (or an admin), or the source with its key.
    pub async fn now_playing(
        &self,
        caller: Caller<'_>,
        slug: &str,
        title: Option<String>,
        artist: Option<String>,
    ) -> Result<(), RadioError> {
        let station = match caller {
            Caller::User(user) => self.managed(user, slug).await?,
            Caller::SourceKey(key) => self.source_station(slug, key).await?,
        };
        let mut v = Validator::default();
        let title = v.required("title", title, |raw| name(&raw).map_err(|_| "must be 1 to 100 characters"));
        // An artist is optional: a source that sends an empty one means "no artist", not a mistake.
        let artist = artist.filter(|raw| !raw.trim().is_empty());
        let artist =
            v.optional("artist", artist, |raw| name(&raw).map_err(|_| "must be 1 to 100 characters")).ok().flatten();
        let title = v.finish_with(title)?;
        let now = NowPlaying { title, artist, since: workbench_users::now() };
        self.stations.set_now_playing(station.id, now.clone()).await?;
        let data = json!({"slug": slug, "title": now.title, "artist": now.artist, "since": now.since});
        self.events.publish(slug, "radio.now_playing", data).await;
        Ok(())
    }

    /// Whether `viewer` may hear the station's events (topic `radio:{slug}`).
    pub async fn may_listen(&self, viewer: &Principal, slug: &str) -> bool {
        self.visible(Some(viewer), slug).await.is_ok()
    }

    /// A listener tuning in from `address`: the station's media type and its audio, from a
    /// burst of the last seconds; the playlist when no source is live (started when nobody was
    /// playing it). An address with as many listeners as it may have here is refused first,
    /// before anything is read: whatever the station, it gets no more.
    pub async fn tune_in(
        &self,
        viewer: Option<&Principal>,
        slug: &str,
        address: IpAddr,
    ) -> Result<Listening, RadioError> {
        let slot = self.addresses.claim(address).map_err(RadioError::TooManyListeners)?;
        let changes = self.known.changes();
        let station = self.kept_visible(viewer, slug).await?;
        let relay = self.relays.get(slug, station.format.framing());
        // A source on another instance is live when its audio arrives here, or when the census
        // says so before its first chunk did.
        if !relay.is_live() && !self.census.count(slug).await.1 {
            let playlist = self.stations.playlist(station.id).await?;
            if playlist.is_empty() {
                return Err(RadioError::OffAir);
            }
            self.start_dj(&station, &relay, playlist);
        }
        // The writer follows the relay (and the access changes) before the burst is taken.
        let transmitter = Transmitter::for_relay(self, slug, &relay);
        // The station was read across a change its writer may already have handled: the store
        // says whether this listener may listen, when it joins.
        let changes_seen = Some(transmitter.changes_seen()).filter(|_| self.known.changes() == changes);
        let Tuned { burst, next } = relay.tune_in();
        transmitter.expect(next);
        self.report(slug, &relay);
        Ok(Listening {
            content_type: station.format.content_type(),
            tuned: Some(transmitter::Tuned { burst, next, changes_seen, viewer: viewer.copied() }),
            transmitter: Some(transmitter),
            slot,
        })
    }

    /// A source connecting with `key`: refused for an unknown station, a wrong key, a format
    /// the station does not carry, or while another source is connected.
    pub async fn connect_source(
        &self,
        slug: &str,
        key: &str,
        content_type: Option<&str>,
    ) -> Result<SourceSession, RadioError> {
        let epoch = self.keys_changed.load(Ordering::Acquire);
        let station = self.source_station(slug, key).await?;
        if !station.format.accepts(content_type) {
            return Err(RadioError::WrongFormat(station.format.content_type()));
        }
        let relay = self.relays.get(slug, station.format.framing());
        // One source at a time: here, and on any other instance as far as the census knows.
        if relay.is_live() || self.census.count(slug).await.1 || !relay.claim_source() {
            return Err(RadioError::SourceConnected);
        }
        relay.restart();
        self.report(slug, &relay);
        self.events.publish(slug, "radio.live", json!({"slug": slug, "live": true})).await;
        Ok(SourceSession {
            service: self.clone(),
            slug: slug.to_owned(),
            framer: Framer::new(station.format.framing()),
            relay,
            epoch,
            checked: tokio::time::Instant::now(),
        })
    }

    /// The station `key` opens. An unknown station is a wrong key, so that no key tells which
    /// stations exist (a private one included), and it takes the same steps: one read, one digest,
    /// one comparison (with a digest no key has), so that it is not the quicker answer either.
    async fn source_station(&self, slug: &str, key: &str) -> Result<Station, RadioError> {
        let found = self.stations.find(slug).await?;
        let presented = digest(key);
        match found {
            Some((station, stored)) if presented == stored => Ok(station),
            Some(_) => Err(RadioError::WrongKey),
            None => {
                // Compared all the same, and never equal.
                let _ = std::hint::black_box(presented == NO_STATION_DIGEST);
                Err(RadioError::WrongKey)
            }
        }
    }

    async fn visible(&self, viewer: Option<&Principal>, slug: &str) -> Result<Station, RadioError> {
        if StationSlug::parse(slug).is_err() {
            return Err(RadioError::NotFound);
        }
        match self.stations.find(slug).await? {
            Some((station, _)) if station.visible_to(viewer) => Ok(station),
            _ => Err(RadioError::NotFound),
        }
    }

    /// [`Self::visible`] from the stations kept for tune-ins.
    async fn kept_visible(&self, viewer: Option<&Principal>, slug: &str) -> Result<Station, RadioError> {
        if StationSlug::parse(slug).is_err() {
            return Err(RadioError::NotFound);
        }
        let read = || async { Ok(self.stations.find(slug).await?.map(|(station, _)| station)) };
        match self.known.station(slug, read).await? {
            Some(station) if station.visible_to(viewer) => Ok(station),
            _ => Err(RadioError::NotFound),
        }
    }

    /// A station the caller manages: anyone else gets 403 on one they can see, 404 otherwise.
    async fn managed(&self, caller: &Principal, slug: &str) -> Result<Station, RadioError> {
        let station = self.visible(Some(caller), slug).await?;
        if station.managed_by(caller) { Ok(station) } else { Err(RadioError::Forbidden) }
    }

    async fn on_air(&self, station: Station) -> OnAir {
        let (listeners, live) = self.census.count(station.slug.as_str()).await;
        OnAir { station, live, listeners }
    }

    pub(crate) fn report(&self, slug: &str, relay: &Relay) {
        self.census.report(slug, relay.listeners() as u64, relay.is_live());
    }

    /// Plays the playlist into the relay unless it already plays: track after track, each paced
    /// at the speed it plays, until a source connects or nobody has listened for a while.
    fn start_dj(&self, station: &Station, relay: &Arc<Relay>, playlist: Vec<i64>) {
        if relay.dj.swap(true, Ordering::AcqRel) {
            return;
        }
        let (files, stations, relay) = (self.files.clone(), self.stations.clone(), relay.clone());
        let (id, owner, format, slug) = (station.id, station.owner_id, station.format, station.slug.to_string());
        tokio::spawn(async move {
            let mut idle_since = None;
            let mut playlist = playlist;
            'playing: loop {
                let mut played_any = false;
                for &file in &playlist {
                    let track = match files.track(owner, file, format).await {
                        Ok(Some(track)) => track,
                        Ok(None) => continue,
                        Err(e) => {
                            tracing::warn!(station = %slug, file, error = %e, "the auto-DJ cannot open a track");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                            continue;
                        }
                    };
                    tracing::debug!(station = %slug, track = %track.title, "the auto-DJ plays");
                    let mut framer = Framer::new(format.framing());
                    let mut audio = track.audio;
                    let started = tokio::time::Instant::now();
                    let mut played = Duration::ZERO;
                    while let Some(chunk) = audio.next().await {
                        let Ok(chunk) = chunk else { break };
                        for frame in framer.feed(&chunk) {
                            if relay.is_live() {
                                break 'playing;
                            }
                            played += frame.duration;
                            relay.push([frame]);
                            // A little ahead of the clock, so that listeners' buffers never run dry.
                            tokio::time::sleep_until(started + played.saturating_sub(Duration::from_millis(500))).await;
                        }
                        if relay.listeners() == 0 {
                            let since = *idle_since.get_or_insert_with(tokio::time::Instant::now);
                            if since.elapsed() > IDLE_DJ {
                                break 'playing;
                            }
                        } else {
                            idle_since = None;
                        }
                    }
                    played_any |= !played.is_zero();
                    let _ = relay.flush();
                }
                // Nothing of it could be played (its files went): stop rather than spin.
                if !played_any {
                    break;
                }
                // Each round plays the playlist as it is now.
                match stations.playlist(id).await {
                    Ok(now) if now.is_empty() => break,
                    Ok(now) => playlist = now,
                    Err(e) => tracing::warn!(station = %slug, error = %e, "the auto-DJ keeps its playlist"),
                }
            }
            relay.dj.store(false, Ordering::Release);
        });
    }
}

/// Who says what is playing.
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    /// A signed-in user: the station's owner or an admin.
    User(&'a Principal),
    /// The source, with its key as a bearer token.
    SourceKey(&'a str),
}

/// A listener tuned in, counted from now: its burst and where its live chunks start, until it
/// [plays](Self::play) (or is dropped, and counted out).
#[derive(Debug)]
pub struct Listening {
    /// The stream's media type (`audio/mpeg`, `audio/ogg`).
    pub content_type: &'static str,
    tuned: Option<transmitter::Tuned>,
    /// This thread's writer of the station, following it since before the burst was taken.
    transmitter: Option<Rc<Transmitter>>,
    /// Its place among its address's listeners (none without a limit): it goes with the socket.
    slot: Option<AddressSlot>,
}

impl Listening {
    /// Hands `out` to the station's writer on this thread (`crate::transmitter`), which writes
    /// the burst and then every chunk to it until the listener falls too far behind, the station
    /// goes away, the listener's right to hear it ends (the station turned private or was
    /// deleted, the account's password, role or status changed: on any instance), the token that
    /// let it in expires (`deadline`), the server stops (`stop`: the first listener's ends the
    /// writer, so every listener on a thread must be served by the same server), or `out` fails
    /// (the listener went). Returns at once: a listener is its socket and a slot in the writer,
    /// not a task. Each chunk is written as it is shared by every listener: no copy, no buffer of
    /// the listener's own. The listener's address slot is given back when `out` is dropped. Must
    /// run on a `LocalSet` (an actix-web worker is one).
    pub fn play<W>(mut self, out: W, deadline: Option<tokio::time::Instant>, stop: Pin<Box<dyn Future<Output = ()>>>)
    where
        W: tokio::io::AsyncWrite + Unpin + 'static,
    {
        if let (Some(transmitter), Some(tuned)) = (self.transmitter.take(), self.tuned.take()) {
            let out: Box<dyn tokio::io::AsyncWrite + Unpin> = match self.slot.take() {
                Some(slot) => Box::new(Slotted { out, _slot: slot }),
                None => Box::new(out),
            };
            transmitter.join(out, tuned, deadline, stop);
        }
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        if let (Some(transmitter), Some(tuned)) = (self.transmitter.take(), self.tuned.take()) {
            transmitter.left_before_joining(tuned.next);
        }
    }
}

/// A connected source: feed it what arrives.
#[derive(Debug)]
pub struct SourceSession {
    service: RadioService,
    slug: String,
    framer: Framer,
    relay: Arc<Relay>,
    epoch: u64,
    /// When the key was last checked against the store.
    checked: tokio::time::Instant,
}

impl SourceSession {
    /// Relays `bytes`; `false` when the source must be cut (its key changed, its station went).
    pub async fn feed(&mut self, key: &str, bytes: &[u8]) -> bool {
        let current = self.service.keys_changed.load(Ordering::Acquire);
        if current != self.epoch || self.checked.elapsed() > KEY_RECHECK {
            if self.service.source_station(&self.slug, key).await.is_err() {
                return false;
            }
            self.epoch = current;
            self.checked = tokio::time::Instant::now();
        }
        let frames = self.framer.feed(bytes);
        let sent = self.relay.push(frames);
        self.service.send_to_other_instances(&self.slug, sent).await;
        true
    }

    /// The source went: listeners go on with the playlist, if there is one.
    pub async fn end(self) {
        let last = self.relay.flush();
        self.service.send_to_other_instances(&self.slug, last.into_iter().collect()).await;
        // An empty chunk tells the other instances the source went.
        self.service.bus.publish(AUDIO_TOPIC, encode_audio(&self.slug, &self.service.instance, &[])).await;
        self.relay.release_source();
        self.relay.restart();
        self.service.report(&self.slug, &self.relay);
        self.service.events.publish(&self.slug, "radio.live", json!({"slug": self.slug, "live": false})).await;
        self.service.resume_playlist(&self.slug, &self.relay).await;
    }
}

/// Live audio on the bus: `<slug>\n<instance>\n<bytes>`; no bytes when the source went.
fn encode_audio(slug: &str, instance: &str, audio: &[u8]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(slug.len() + instance.len() + 2 + audio.len());
    payload.extend_from_slice(slug.as_bytes());
    payload.push(b'\n');
    payload.extend_from_slice(instance.as_bytes());
    payload.push(b'\n');
    payload.extend_from_slice(audio);
    payload
}

fn decode_audio(payload: &[u8]) -> Option<(&str, &str, &[u8])> {
    let slug_end = payload.iter().position(|&b| b == b'\n')?;
    let rest = &payload[slug_end + 1..];
    let instance_end = rest.iter().position(|&b| b == b'\n')?;
    let slug = std::str::from_utf8(&payload[..slug_end]).ok()?;
    let instance = std::str::from_utf8(&rest[..instance_end]).ok()?;
    Some((slug, instance, &rest[instance_end + 1..]))
}

/// What this thread's writer of a station asks of the service.
impl transmitter::Oversight for RadioService {
    fn access_changes(&self) -> broadcast::Receiver<AccessChange> {
        self.access_changes()
    }

    fn may_still_listen<'a>(
        &'a self,
        slug: &'a str,
        viewer: Option<&'a Principal>,
    ) -> Pin<Box<dyn Future<Output = bool> + 'a>> {
        Box::pin(self.recheck(slug, viewer))
    }

    fn report(&self, slug: &str, relay: &Relay) {
        self.report(slug, relay);
    }
}
