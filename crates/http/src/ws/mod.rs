//! The WebSocket: `GET /api/v1/ws` upgrades to a socket that carries task events, chat, presence
//! and (for moderators and admins) live system metrics. The protocol is in [`protocol`]; one
//! socket's life in `session`; what outlives a socket (presence, the hub) in `crate::realtime`.

use actix_web::{HttpRequest, HttpResponse, get, web};
pub mod protocol;
mod session;
mod wire;

pub(crate) use session::Credentials;
pub use session::SYSTEM_TOPIC;

use crate::extract::Query;
use crate::groups::Routes;
use crate::handoff::Handoff;
use crate::problem::{ApiError, Problem};
use crate::state::AppState;
use protocol::ConnectQuery;

/// The largest frame a client may send: a chat message is at most a few kilobytes.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// This domain's routes.
pub fn routes(routes: &mut Routes<'_, '_>) {
    if let Some(cfg) = routes.under("/ws") {
        cfg.service(connect);
    }
}

/// Open the realtime WebSocket.
///
/// Server → client events are `{"type": "...", "data": {...}}`: `task.created`, `task.updated`,
/// `task.deleted` (to the task's owner and assignee), `chat.message`, `chat.dm`, `chat.edited`,
/// `chat.deleted`, `chat.reaction`, `chat.read`, `chat.typing`, `presence`
/// (`{user_id, status: "online"|"offline"}`), `history` (an answer to `history`), `system.metrics`,
/// `system.alert`, `pong` and `error` (`{code, message, errors?}`). Client → server messages are
/// flat objects: `{"type": "join", "room": "ops"}`, `leave {room}`,
/// `message {room, content, attachments?}`, `dm {to, content, attachments?}` (`attachments`: ids
/// of at most 10 files the sender owns, which every reader of the message may then download),
/// `typing {to | room}`, `history {room | with, before?, after?, limit?}`, `subscribe {topic}` and
/// `unsubscribe {topic}` (topic `system`, moderators and admins), `ping`, `auth {token}`.
/// Every message is stored before it is delivered; a client that reconnects asks `history` with
/// `after` set to the last id it saw. The server pings every 25 s and closes a socket that
/// missed two pongs; frames over 64 KiB close it with 1009; a client that stops reading is
/// closed with 4008 once 256 frames wait for it. A socket lives no longer than its token: at the
/// token's `exp` it closes with 4001, unless `auth` brought a newer token of the same account
/// (whose `exp` then applies); it also closes with 4001 when the account's password, role or
/// status changes. An account holds at most `WS_MAX_SOCKETS_PER_USER` sockets (one more is a
/// `429` at the handshake), and its client messages share one allowance across them.
#[utoipa::path(
    tag = "realtime",
    operation_id = "open_websocket",
    params(ConnectQuery),
    security((), ("bearer_auth" = ["session"])),
    responses(
        (status = 101, description = "Switching protocols: the WebSocket is open"),
        (status = 400, description = "Not a WebSocket handshake", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "The token in `?token=` (or the `Authorization` header) is not valid",
            body = Problem, content_type = "application/problem+json",
            headers(("WWW-Authenticate" = String))),
        (status = 403, description = "A personal access token: sockets are for signed-in sessions",
            body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/ws")]
pub async fn connect(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: Query<ConnectQuery>,
) -> Result<HttpResponse, ApiError> {
    let token = query.into_inner().token.or_else(|| bearer(&req));
    // A socket outlives any one request, and a revoked token must stop at once: sockets are for
    // signed-in sessions, whose accounts' changes close them.
    if token.as_deref().is_some_and(workbench_tokens::is_personal_token) {
        return Err(ApiError::insufficient_scope(None));
    }
    // Checked before the upgrade, so that a bad token is an HTTP 401 the client can read.
    let credentials = match token {
        Some(token) => Some(credentials(&state, &token).await?),
        None => None,
    };
    // Registered before the upgrade, so that an account with all its sockets open hears why.
    let registration = match credentials {
        Some(credentials) => Some(session::Registration::new(&state, credentials).map_err(|refused| {
            ApiError::new(actix_web::http::StatusCode::TOO_MANY_REQUESTS, "too-many-sockets", format!("{refused}."))
        })?),
        None => None,
    };
    let mut response = actix_http::ws::handshake(req.head())
        .map_err(|e| ApiError::bad_request(format!("Not a WebSocket handshake: {e}.")))?;
    // The socket leaves the dispatcher once the `101` is out (see `handoff`): what a socket costs
    // is then only what it holds.
    let handoff = Handoff::of(&req)?;
    let opening = match registration {
        Some(registration) => session::Opening::Registered(registration),
        None => session::Opening::Anonymous,
    };
    let state = state.into_inner();
    handoff.claim(move |socket, _stopping| {
        // At a graceful stop the hub closes every socket with a code that says to reconnect.
        let (reader, writer) = wire::split(socket, MAX_FRAME_BYTES);
        session::run(state, writer, reader, opening)
    });
    Ok(HttpResponse::from(response.body(actix_web::body::None::new())).map_into_boxed_body())
}

/// The account and expiry behind an access token given at the start of something long-lived (a
/// socket, a radio listener): `401` for a bad token, `500` when it cannot be checked now.
pub(crate) async fn credentials(state: &AppState, token: &str) -> Result<Credentials, ApiError> {
    session::authenticate(state, token).await.map_err(|e| match e {
        workbench_users::AuthError::Unknown(cause) => ApiError::internal(cause),
        _ => ApiError::invalid_token(),
    })
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(actix_web::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned())
}
