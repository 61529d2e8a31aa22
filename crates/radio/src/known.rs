//! Stations as this instance last read them, for tune-ins: a thousand listeners arriving at once
//! cost one store read, not a thousand (each of which held a pool connection, a blocking thread
//! and their memory for a while).
//!
//! What a tune-in needs of a station (that it exists, whether it is public, its owner and format)
//! changes only through an [`AccessChange`], which every instance hears on the bus; so a row is
//! kept until one is heard about its station, its owner's account, or changes that may have been
//! missed. A tune-in that read a row across a change is checked against the store when it joins
//! (see [`Known::changes`]), as a listener that tuned in across one already was.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OnceCell;
use workbench_core::RepositoryError;
use workbench_users::UserId;

use crate::access::AccessChange;
use crate::station::Station;

/// Station rows kept per instance: see the module documentation.
#[derive(Default)]
pub(crate) struct Known {
    /// By slug; a cell is being filled while its first reader waits on the store, and the others
    /// wait for that reader rather than read too.
    stations: Mutex<HashMap<String, Arc<OnceCell<Option<Station>>>>>,
    /// The owners of stations read so far, kept across changes that drop the rows: an owner's
    /// account deleted takes their stations with it, with no change of its own.
    owners: Mutex<HashMap<String, UserId>>,
    /// Access changes heard so far.
    changes: AtomicU64,
    /// Set while the bus may be losing changes: every tune-in reads the store.
    unheard: AtomicBool,
}

impl Known {
    /// The access changes heard so far. A tune-in notes it before it reads a row: if it moved by
    /// the time the listener joins, the row may predate a change that listener's writer handled
    /// without it, and the listener is checked against the store.
    pub(crate) fn changes(&self) -> u64 {
        self.changes.load(Ordering::Acquire)
    }

    /// `slug`'s station, from `read` (the store) unless it is kept; a station that is not found
    /// is not kept, so one created later is found.
    pub(crate) async fn station<F>(
        &self,
        slug: &str,
        read: impl FnOnce() -> F,
    ) -> Result<Option<Station>, RepositoryError>
    where
        F: Future<Output = Result<Option<Station>, RepositoryError>>,
    {
        let cell = {
            let mut stations = self.stations.lock().unwrap_or_else(PoisonError::into_inner);
            // Checked under the lock that `losing` sets it under: no cell is handed out after
            // the rows were dropped for a lost bus.
            if self.unheard.load(Ordering::Acquire) {
                None
            } else {
                Some(match stations.get(slug) {
                    Some(cell) => cell.clone(),
                    None => stations.entry(slug.to_owned()).or_default().clone(),
                })
            }
        };
        let Some(cell) = cell else {
            let found = read().await?;
            self.owned(slug, found.as_ref());
            return Ok(found);
        };
        // A station not found is shared with whoever waits on the same read, as a station is:
        // requests for a slug that does not exist cost one read at a time, not one each in turn.
        let found = cell.get_or_try_init(read).await.cloned();
        if !matches!(found, Ok(Some(_))) {
            // Nothing but stations is kept: unknown slugs must not grow the map, and one created
            // later is found.
            let mut stations = self.stations.lock().unwrap_or_else(PoisonError::into_inner);
            if stations.get(slug).is_some_and(|kept| Arc::ptr_eq(kept, &cell)) {
                stations.remove(slug);
            }
        }
        if let Ok(found) = &found {
            self.owned(slug, found.as_ref());
        }
        found
    }

    /// Notes whom `slug` belongs to, as just read.
    fn owned(&self, slug: &str, station: Option<&Station>) {
        if let Some(station) = station {
            let mut owners = self.owners.lock().unwrap_or_else(PoisonError::into_inner);
            if owners.get(slug) != Some(&station.owner_id) {
                owners.insert(slug.to_owned(), station.owner_id);
            }
        }
    }

    /// Changes from other instances may be lost from now (`true`: the bus's link is down, or this
    /// instance fell behind it) until they flow again (`false`, once [`AccessChange::Missed`]
    /// dropped what was read meanwhile): meanwhile nothing is kept.
    pub(crate) fn losing(&self, losing: bool) {
        {
            let mut stations = self.stations.lock().unwrap_or_else(PoisonError::into_inner);
            self.unheard.store(losing, Ordering::Release);
            if losing {
                stations.clear();
            }
        }
        if losing {
            self.changes.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Drops the rows `change` may have made stale, then counts it. Returns the stations of an
    /// account that changed, which may have gone with it (the caller asks the store).
    pub(crate) fn heard(&self, change: &AccessChange) -> Vec<String> {
        let mut owned = Vec::new();
        {
            let mut stations = self.stations.lock().unwrap_or_else(PoisonError::into_inner);
            let mut owners = self.owners.lock().unwrap_or_else(PoisonError::into_inner);
            match change {
                AccessChange::Station { slug, .. } => {
                    stations.remove(slug);
                }
                AccessChange::Gone { slug } => {
                    stations.remove(slug);
                    owners.remove(slug);
                }
                AccessChange::Account { user } => {
                    owned = owners.iter().filter(|(_, owner)| *owner == user).map(|(slug, _)| slug.clone()).collect();
                    for slug in &owned {
                        stations.remove(slug);
                    }
                }
                AccessChange::Missed => stations.clear(),
            }
        }
        // After the rows went: a tune-in that noted the count before this reads afresh or is
        // checked when it joins.
        self.changes.fetch_add(1, Ordering::AcqRel);
        owned
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;
    use crate::station::{StationFormat, StationSlug};

    fn station(slug: &str, owner: i64) -> Station {
        Station {
            id: 1,
            slug: StationSlug::parse(slug).unwrap(),
            name: "Jazz".into(),
            description: None,
            owner_id: UserId(owner),
            is_public: true,
            format: StationFormat::Mp3,
            now_playing: None,
            created_at: chrono::Utc::now(),
        }
    }

    #[tokio::test]
    async fn concurrent_tune_ins_read_the_store_once_and_a_change_makes_the_next_read_again() {
        let known = Known::default();
        let reads = AtomicUsize::new(0);
        let read = || async {
            reads.fetch_add(1, Ordering::SeqCst);
            tokio::task::yield_now().await;
            Ok(Some(station("jazz", 1)))
        };
        let all = futures_util::future::join_all((0..100).map(|_| known.station("jazz", read))).await;
        assert!(all.iter().all(|s| s.as_ref().unwrap().as_ref().unwrap().slug.as_str() == "jazz"));
        assert_eq!(reads.load(Ordering::SeqCst), 1, "one read for a hundred tune-ins");

        let before = known.changes();
        known.heard(&AccessChange::Station { slug: "rock".into(), owner: UserId(2), public: false });
        assert_ne!(known.changes(), before, "every change is counted");
        known.station("jazz", read).await.unwrap();
        assert_eq!(reads.load(Ordering::SeqCst), 1, "another station's change keeps the row");

        known.heard(&AccessChange::Station { slug: "jazz".into(), owner: UserId(1), public: true });
        known.station("jazz", read).await.unwrap();
        assert_eq!(reads.load(Ordering::SeqCst), 2, "its own change drops it");
        known.heard(&AccessChange::Missed);
        known.station("jazz", read).await.unwrap();
        assert_eq!(reads.load(Ordering::SeqCst), 3, "missed changes drop every row");

        known.losing(true);
        known.station("jazz", read).await.unwrap();
        known.station("jazz", read).await.unwrap();
        assert_eq!(reads.load(Ordering::SeqCst), 5, "while changes may be lost, every tune-in reads");
        known.losing(false);
        known.station("jazz", read).await.unwrap();
        known.station("jazz", read).await.unwrap();
        assert_eq!(reads.load(Ordering::SeqCst), 6, "kept again once they flow");
    }

    #[tokio::test]
    async fn a_station_not_found_or_not_read_is_not_kept() {
        let known = Known::default();
        assert_eq!(known.station("jazz", || async { Ok(None) }).await.unwrap(), None);
        let failed =
            known.station("jazz", || async { Err(RepositoryError::Unavailable(anyhow::anyhow!("down"))) }).await;
        assert!(failed.is_err());
        assert!(known.stations.lock().unwrap().is_empty(), "no empty cell left for an unknown slug");
        let created = known.station("jazz", || async { Ok(Some(station("jazz", 1))) }).await.unwrap();
        assert!(created.is_some(), "a station created since is found");
    }

    #[tokio::test]
    async fn concurrent_requests_for_a_slug_that_does_not_exist_share_one_read() {
        let known = Known::default();
        let reads = AtomicUsize::new(0);
        let read = || async {
            reads.fetch_add(1, Ordering::SeqCst);
            tokio::task::yield_now().await;
            Ok(None)
        };
        let all = futures_util::future::join_all((0..100).map(|_| known.station("nope", read))).await;
        assert!(all.iter().all(|found| matches!(found, Ok(None))));
        assert_eq!(reads.load(Ordering::SeqCst), 1);
        assert!(known.stations.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn an_owner_read_while_changes_may_be_lost_is_still_known() {
        let known = Known::default();
        known.losing(true);
        known.station("jazz", || async { Ok(Some(station("jazz", 1))) }).await.unwrap();
        known.heard(&AccessChange::Missed);
        known.losing(false);
        assert_eq!(known.heard(&AccessChange::Account { user: UserId(1) }), vec!["jazz".to_owned()]);
    }

    #[tokio::test]
    async fn an_owner_s_account_change_drops_their_stations_and_names_them() {
        let known = Known::default();
        known.station("jazz", || async { Ok(Some(station("jazz", 1))) }).await.unwrap();
        known.station("rock", || async { Ok(Some(station("rock", 2))) }).await.unwrap();
        // Dropped by a change of its own, the row's owner is still known.
        known.heard(&AccessChange::Station { slug: "jazz".into(), owner: UserId(1), public: true });
        assert_eq!(known.heard(&AccessChange::Account { user: UserId(1) }), vec!["jazz".to_owned()]);
        assert_eq!(known.heard(&AccessChange::Account { user: UserId(3) }), Vec::<String>::new());
        known.heard(&AccessChange::Gone { slug: "rock".into() });
        assert_eq!(known.heard(&AccessChange::Account { user: UserId(2) }), Vec::<String>::new(), "gone is gone");
    }
}
