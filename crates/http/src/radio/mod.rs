//! Radio stations: a station relays one live source to any number of listeners and plays its
//! playlist when no source is live. Stations are managed here; sources connect to the source
//! listener (`workbench-icecast`, a port of its own) and listeners tune in at
//! `GET /radio/{slug}/stream`, outside `/api/v1`.
//!
//! Who sees a station: everyone for a public one, its owner and admins for a private one (anyone
//! else: `404`). Who manages it: its owner and admins (anyone else who sees it: `403`).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};
use workbench_core::{FieldErrors, PageRequest};
use workbench_radio::Caller;

pub mod dto;
mod errors;

use crate::body::lenient;
use crate::extract::{CurrentUser, Json, Query};
use crate::groups::Routes;
use crate::handoff::{Handoff, until_close};
use crate::pagination::{Paginated, paginated};
use crate::problem::{ApiError, Problem};
use crate::responses::{BadRequest, Forbidden, NotFound, Unauthorized, Unprocessable};
use crate::state::AppState;
use crate::ws::Credentials;
use dto::{
    CreateStationRequest, CreatedStationResponse, ListenQuery, NowPlayingRequest, PlaylistRequest, PlaylistResponse,
    SourceKeyResponse, StationListQuery, StationResponse, UpdateStationRequest,
};

/// This domain's routes.
pub fn routes(routes: &mut Routes<'_, '_>) {
    if let Some(cfg) = routes.under("/radio") {
        cfg.service(create)
            .service(list)
            .service(get)
            .service(update)
            .service(remove)
            .service(rotate_key)
            .service(set_playlist)
            .service(now_playing);
    }
}

/// Make a station; its source key is shown only in this answer.
#[utoipa::path(
    tag = "radio",
    operation_id = "create_station",
    security(("bearer_auth" = ["files:write"])),
    request_body = CreateStationRequest,
    responses(
        (status = 201, body = CreatedStationResponse, headers(("Location" = String))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 409, description = "The slug is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, response = Unprocessable),
    )
)]
#[post("/radio/stations")]
pub async fn create(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    body: Json<CreateStationRequest>,
) -> Result<HttpResponse, ApiError> {
    let draft = body.into_inner().into_draft()?;
    let (station, key) = state.radio.create(&user, draft).await?;
    let location = format!("/api/v1/radio/stations/{}", station.station.slug);
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(CreatedStationResponse { station: station.into(), source_key: key.reveal().to_owned() }))
}

/// Public stations and the caller's own, newest first.
#[utoipa::path(
    tag = "radio",
    operation_id = "list_stations",
    security(("bearer_auth" = ["files:read"])),
    params(StationListQuery),
    responses(
        (status = 200, body = Paginated<StationResponse>, headers(("Link" = String))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 422, response = Unprocessable),
    )
)]
#[get("/radio/stations")]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    query: Query<StationListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let page = PageRequest::from_signed(query.page, query.per_page)?;
    let stations = state.radio.list(&user, page).await?;
    Ok(paginated(&req, stations.map(StationResponse::from)))
}

/// A station the caller may see.
#[utoipa::path(
    tag = "radio",
    operation_id = "get_station",
    security(("bearer_auth" = ["files:read"])),
    params(("slug" = String, Path, description = "The station's slug")),
    responses(
        (status = 200, body = StationResponse),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    )
)]
#[get("/radio/stations/{slug}")]
pub async fn get(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    slug: web::Path<String>,
) -> Result<web::Json<StationResponse>, ApiError> {
    Ok(web::Json(state.radio.get(&user, &slug).await?.into()))
}

/// Change a station's name, description or visibility: its owner or an admin.
#[utoipa::path(
    tag = "radio",
    operation_id = "update_station",
    security(("bearer_auth" = ["files:write"])),
    params(("slug" = String, Path, description = "The station's slug")),
    request_body = UpdateStationRequest,
    responses(
        (status = 200, body = StationResponse),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 422, response = Unprocessable),
    )
)]
#[patch("/radio/stations/{slug}")]
pub async fn update(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    slug: web::Path<String>,
    body: Json<UpdateStationRequest>,
) -> Result<web::Json<StationResponse>, ApiError> {
    let changes = body.into_inner().into_changes()?;
    Ok(web::Json(state.radio.update(&user, &slug, changes).await?.into()))
}

/// Delete a station: its owner or an admin. A connected source is cut.
#[utoipa::path(
    tag = "radio",
    operation_id = "delete_station",
    security(("bearer_auth" = ["files:write"])),
    params(("slug" = String, Path, description = "The station's slug")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
#[delete("/radio/stations/{slug}")]
pub async fn remove(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    slug: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.radio.delete(&user, &slug).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A new source key: the old one stops working, and a source connected with it is cut.
#[utoipa::path(
    tag = "radio",
    operation_id = "rotate_station_source_key",
    security(("bearer_auth" = ["files:write"])),
    params(("slug" = String, Path, description = "The station's slug")),
    responses(
        (status = 201, body = SourceKeyResponse),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
#[post("/radio/stations/{slug}/source-key")]
pub async fn rotate_key(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    slug: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = state.radio.rotate_key(&user, &slug).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(SourceKeyResponse { source_key: key.reveal().to_owned() }))
}

/// Replace the playlist: audio files the owner owns, played in order, looping, while no source
/// is live.
#[utoipa::path(
    tag = "radio",
    operation_id = "set_station_playlist",
    security(("bearer_auth" = ["files:write"])),
    params(("slug" = String, Path, description = "The station's slug")),
    request_body = PlaylistRequest,
    responses(
        (status = 200, body = PlaylistResponse),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 422, description = "`file_ids` names something that is not an audio file of the owner", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/radio/stations/{slug}/playlist")]
pub async fn set_playlist(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    slug: web::Path<String>,
    body: Json<PlaylistRequest>,
) -> Result<web::Json<PlaylistResponse>, ApiError> {
    let mut failures = workbench_core::TypeFailures::default();
    let files = lenient("file_ids", body.into_inner().file_ids, &mut failures);
    let Some(files) = files else {
        let errors = FieldErrors::from_vec(failures.into_vec())
            .unwrap_or_else(|| FieldErrors::single("file_ids", "is required"));
        return Err(ApiError::validation(errors));
    };
    let files = files.into_iter().map(|id| id.0).collect();
    let file_ids = state.radio.set_playlist(&user, &slug, files).await?;
    Ok(web::Json(PlaylistResponse { file_ids }))
}

/// Say what is playing: the owner (or an admin), or the source with its key as a bearer token.
/// Sockets subscribed to topic `radio:{slug}` get `radio.now_playing`.
#[utoipa::path(
    tag = "radio",
    operation_id = "set_station_now_playing",
    security(("bearer_auth" = ["files:write"])),
    params(("slug" = String, Path, description = "The station's slug")),
    request_body = NowPlayingRequest,
    responses(
        (status = 204, description = "Said"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 422, response = Unprocessable),
    )
)]
#[post("/radio/stations/{slug}/now-playing")]
pub async fn now_playing(
    req: HttpRequest,
    state: web::Data<AppState>,
    slug: web::Path<String>,
    body: Json<NowPlayingRequest>,
) -> Result<HttpResponse, actix_web::Error> {
    let body = body.into_inner();
    let mut failures = workbench_core::TypeFailures::default();
    let title = lenient("title", body.title, &mut failures);
    let artist = crate::body::nullable("artist", body.artist, &mut failures);
    if let Some(errors) = FieldErrors::from_vec(failures.into_vec()) {
        return Err(ApiError::validation(errors).into());
    }
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    // A source key is 64 hex digits; anything else is a user's token.
    match bearer {
        Some(key) if key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit()) => {
            state.radio.now_playing(Caller::SourceKey(&key), &slug, title, artist).await.map_err(ApiError::from)?;
        }
        _ => {
            let CurrentUser(user) = <CurrentUser as actix_web::FromRequest>::extract(&req).await?;
            state.radio.now_playing(Caller::User(&user), &slug, title, artist).await.map_err(ApiError::from)?;
        }
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Listen to a station: its live audio (`audio/mpeg` or `audio/ogg`), from a burst of the last
/// seconds so that playback starts at once, starting on a frame or page boundary; the playlist
/// when no source is live; `503` with neither. A private station needs `?token=` of its owner or
/// an admin. A listener that cannot keep up is dropped, and one whose right ends is cut on every
/// instance: at its token's expiry, when the station turns private or is deleted, when its
/// account's password, role or status changes. The body runs until the connection closes.
///
/// One client address (the one the rate limits see: a trusted proxy's `X-Forwarded-For` is
/// believed; IPv6 by /64) has at most `RADIO_MAX_LISTENERS_PER_IP` listeners at once on one
/// instance, whatever the stations; one more is `429` with `Retry-After` until one of them ends.
#[utoipa::path(
    tag = "radio",
    operation_id = "listen_station",
    params(("slug" = String, Path, description = "The station's slug"), ListenQuery),
    responses(
        (status = 200, description = "The station's audio, for as long as it plays", content((Vec<u8> = "audio/mpeg"), (Vec<u8> = "audio/ogg"))),
        (status = 400, response = BadRequest),
        (status = 401, description = "`token` is not a valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 404, response = NotFound),
        (status = 429, description = "This address has as many listeners as it may have at once (`RADIO_MAX_LISTENERS_PER_IP`, counted per instance); `too-many-listeners`. Try again after `Retry-After` seconds, or once one of its listeners ends", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))),
        (status = 503, description = "Off the air: no source is live and the playlist is empty", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/radio/{slug}/stream")]
pub async fn listen(
    req: HttpRequest,
    state: web::Data<AppState>,
    slug: web::Path<String>,
    query: Query<ListenQuery>,
) -> Result<HttpResponse, ApiError> {
    let viewer = match query.into_inner().token {
        Some(token) => Some(crate::ws::credentials(&state, &token).await?),
        None => None,
    };
    let handoff = Handoff::of(&req)?;
    // The address the rate limits see (a trusted proxy's `X-Forwarded-For` believed).
    let address = crate::limits::client_address(&req).unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into());
    let listening = state.radio.tune_in(viewer.as_ref().map(|v| &v.principal), &slug, address).await?;
    let listening_type = listening.content_type;
    // A listener lives no longer than the token that let it in.
    let deadline = viewer.as_ref().map(Credentials::deadline);
    // The body is written straight to the socket, outside the dispatcher and its buffers, by the
    // station's writer on this worker: the connection's task ends here. A graceful stop ends the
    // stream at once: the listener reconnects, to another instance, rather than hold the stop
    // until its timeout.
    handoff.claim(move |socket, stopping| {
        listening.play(socket, deadline, Box::pin(async move { stopping.notified().await }));
        std::future::ready(())
    });
    let mut response = HttpResponse::Ok();
    response
        .insert_header((header::CONTENT_TYPE, listening_type))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        // Long-lived and unbuffered through a proxy (nginx honours this header).
        .insert_header(("X-Accel-Buffering", "no"))
        .insert_header(crate::files::serving::identity_encoding());
    Ok(until_close(response))
}
