//! Radio stations and their playlists (the radio domain's `StationRepository`).

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use workbench_core::{Page, PageRequest, RepositoryError};
use workbench_radio::{NewStation, NowPlaying, Station, StationChanges, StationFormat, StationRepository, StationSlug};
use workbench_users::UserId;

use crate::Database;
use crate::database::{stored, write_transaction};
use crate::error::{corrupt, db, map_db_error};
use crate::paging::counted_page;
use crate::schema::{radio_playlist, radio_stations};

/// `StationRepository` on the shared database.
#[derive(Debug, Clone)]
pub struct DieselStationRepository {
    db: Database,
}

impl DieselStationRepository {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = radio_stations)]
struct StationRow {
    id: i64,
    slug: String,
    name: String,
    description: Option<String>,
    owner_id: i64,
    is_public: bool,
    format: String,
    key_digest: String,
    now_playing_title: Option<String>,
    now_playing_artist: Option<String>,
    now_playing_since: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
}

fn utc(at: NaiveDateTime) -> DateTime<Utc> {
    DateTime::from_naive_utc_and_offset(at, Utc)
}

impl StationRow {
    fn into_station(self) -> Result<(Station, String), RepositoryError> {
        let now_playing = match (self.now_playing_title, self.now_playing_since) {
            (Some(title), Some(since)) => {
                Some(NowPlaying { title, artist: self.now_playing_artist, since: utc(since) })
            }
            _ => None,
        };
        let station = Station {
            id: self.id,
            slug: StationSlug::parse(&self.slug).map_err(|e| corrupt("radio_stations.slug", e))?,
            name: self.name,
            description: self.description,
            owner_id: UserId(self.owner_id),
            is_public: self.is_public,
            format: StationFormat::parse(&self.format).map_err(|e| corrupt("radio_stations.format", e))?,
            now_playing,
            created_at: utc(self.created_at),
        };
        Ok((station, self.key_digest))
    }
}

fn station_only(row: StationRow) -> Result<Station, RepositoryError> {
    row.into_station().map(|(station, _)| station)
}

#[async_trait]
impl StationRepository for DieselStationRepository {
    async fn insert(&self, station: NewStation) -> Result<Station, RepositoryError> {
        self.db
            .run(move |conn| {
                let row = diesel::insert_into(radio_stations::table)
                    .values((
                        radio_stations::slug.eq(station.slug.as_str()),
                        radio_stations::name.eq(&station.name),
                        radio_stations::description.eq(station.description.as_deref()),
                        radio_stations::owner_id.eq(station.owner_id.0),
                        radio_stations::is_public.eq(station.is_public),
                        radio_stations::format.eq(station.format.as_str()),
                        radio_stations::key_digest.eq(&station.key_digest),
                        radio_stations::created_at.eq(stored(station.created_at)),
                    ))
                    .returning(radio_stations::all_columns)
                    .get_result::<StationRow>(conn)
                    .map_err(|e| map_db_error(e, &[("slug", "slug")]))?;
                station_only(row)
            })
            .await
    }

    async fn find(&self, slug: &str) -> Result<Option<(Station, String)>, RepositoryError> {
        let slug = slug.to_owned();
        self.db
            .run(move |conn| {
                radio_stations::table
                    .filter(radio_stations::slug.eq(&slug))
                    .select(StationRow::as_select())
                    .first(conn)
                    .optional()
                    .map_err(db)?
                    .map(StationRow::into_station)
                    .transpose()
            })
            .await
    }

    async fn list(&self, viewer: UserId, page: PageRequest) -> Result<Page<Station>, RepositoryError> {
        self.db
            .run(move |conn| {
                let query = || {
                    radio_stations::table
                        .filter(radio_stations::is_public.eq(true).or(radio_stations::owner_id.eq(viewer.0)))
                        .into_boxed()
                };
                let total: i64 = query().count().get_result(conn).map_err(db)?;
                counted_page(page, total, || {
                    let rows: Vec<StationRow> = query()
                        .order((radio_stations::created_at.desc(), radio_stations::id.desc()))
                        .limit(page.limit())
                        .offset(page.offset())
                        .select(StationRow::as_select())
                        .load(conn)
                        .map_err(db)?;
                    rows.into_iter().map(station_only).collect()
                })
            })
            .await
    }

    async fn update(&self, id: i64, changes: StationChanges) -> Result<Option<Station>, RepositoryError> {
        self.db
            .run(move |conn| {
                write_transaction(conn, |c| {
                    let target = radio_stations::table.find(id);
                    if let Some(name) = &changes.name {
                        diesel::update(target).set(radio_stations::name.eq(name)).execute(c).map_err(db)?;
                    }
                    if let Some(description) = &changes.description {
                        diesel::update(target)
                            .set(radio_stations::description.eq(description.as_deref()))
                            .execute(c)
                            .map_err(db)?;
                    }
                    if let Some(is_public) = changes.is_public {
                        diesel::update(target).set(radio_stations::is_public.eq(is_public)).execute(c).map_err(db)?;
                    }
                    target
                        .select(StationRow::as_select())
                        .first(c)
                        .optional()
                        .map_err(db)?
                        .map(station_only)
                        .transpose()
                })
            })
            .await
    }

    async fn delete(&self, id: i64) -> Result<bool, RepositoryError> {
        self.db
            .run(move |conn| Ok(diesel::delete(radio_stations::table.find(id)).execute(conn).map_err(db)? == 1))
            .await
    }

    async fn set_key(&self, id: i64, digest: String) -> Result<(), RepositoryError> {
        self.db
            .run(move |conn| {
                diesel::update(radio_stations::table.find(id))
                    .set(radio_stations::key_digest.eq(&digest))
                    .execute(conn)
                    .map_err(db)?;
                Ok(())
            })
            .await
    }

    async fn set_now_playing(&self, id: i64, now: NowPlaying) -> Result<(), RepositoryError> {
        self.db
            .run(move |conn| {
                diesel::update(radio_stations::table.find(id))
                    .set((
                        radio_stations::now_playing_title.eq(&now.title),
                        radio_stations::now_playing_artist.eq(now.artist.as_deref()),
                        radio_stations::now_playing_since.eq(stored(now.since)),
                    ))
                    .execute(conn)
                    .map_err(db)?;
                Ok(())
            })
            .await
    }

    async fn set_playlist(&self, id: i64, files: Vec<i64>) -> Result<(), RepositoryError> {
        self.db
            .run(move |conn| {
                write_transaction(conn, |c| {
                    diesel::delete(radio_playlist::table.filter(radio_playlist::station_id.eq(id)))
                        .execute(c)
                        .map_err(db)?;
                    // One statement per file: `MultiConnection` has no batch insert; a playlist
                    // holds at most a few hundred.
                    for (position, file) in files.iter().enumerate() {
                        diesel::insert_into(radio_playlist::table)
                            .values((
                                radio_playlist::station_id.eq(id),
                                radio_playlist::position.eq(i32::try_from(position).unwrap_or(i32::MAX)),
                                radio_playlist::file_id.eq(file),
                            ))
                            .execute(c)
                            .map_err(|e| match db(e) {
                                RepositoryError::MissingReference { .. } => {
                                    RepositoryError::MissingReference { field: "file_ids" }
                                }
                                other => other,
                            })?;
                    }
                    Ok(())
                })
            })
            .await
    }

    async fn playlist(&self, id: i64) -> Result<Vec<i64>, RepositoryError> {
        self.db
            .run(move |conn| {
                radio_playlist::table
                    .filter(radio_playlist::station_id.eq(id))
                    .order(radio_playlist::position)
                    .select(radio_playlist::file_id)
                    .load(conn)
                    .map_err(db)
            })
            .await
    }
}
