//! One socket's life: authentication, then a loop that writes what the hub queued for it, reads
//! what the client says, and keeps the connection alive with pings.

use std::sync::Arc;
use std::time::Duration;

use actix_http::ws::{CloseCode, ProtocolError};
use chrono::{DateTime, Utc};
use tokio::time::Instant;
use workbench_chat::{HistoryPage, Typing};
use workbench_realtime::{CloseReason, Closing, Connection, ConnectionId, Mailbox, Refused, Target, event_frame};
use workbench_users::{AuthError, Principal};

use super::protocol::{ClientMessage, HistoryAnswer, SocketError};
use super::wire::{Incoming, Reader, Writer};
use crate::chat::dto::MessageResponse;
use crate::state::AppState;

/// How long a socket opened without a token has to send `auth`.
const AUTH_WITHIN: Duration = Duration::from_secs(10);
/// How often the server pings.
const PING_EVERY: Duration = Duration::from_secs(25);
/// Silence (no pong, no message) after which the socket is closed: two missed pongs.
const SILENCE_LIMIT: Duration = Duration::from_secs(2 * 25 + 5);
/// How long a close frame may take to go out to a client that may have stopped reading.
const CLOSE_WITHIN: Duration = Duration::from_secs(1);

/// The only topic there is: this instance's live system metrics, for moderators and admins.
pub const SYSTEM_TOPIC: &str = "system";

/// The topics of radio stations' events: `radio:{slug}`.
pub const RADIO_TOPIC_PREFIX: &str = "radio:";

/// Who a token belongs to, and when it expires: a socket lives no longer than its token.
pub async fn authenticate(state: &AppState, token: &str) -> Result<Credentials, AuthError> {
    let claims = state.authenticator.verify(token)?;
    let principal = state.authenticator.principal(&claims).await?;
    Ok(Credentials { principal, expires_at: claims.expires_at, session: claims.session_id.map(Arc::from) })
}

/// A verified access token: its account as it is now, its expiry, and the session it was issued
/// under (the socket closes when that session ends).
#[derive(Debug, Clone)]
pub struct Credentials {
    pub principal: Principal,
    pub expires_at: DateTime<Utc>,
    pub session: Option<Arc<str>>,
}

impl Credentials {
    /// The expiry on the runtime's clock.
    pub(crate) fn deadline(&self) -> Instant {
        let left = (self.expires_at - Utc::now()).to_std().unwrap_or_default();
        Instant::now() + left
    }
}

async fn close(socket: &Writer, code: CloseCode, description: &str) {
    let reason = actix_http::ws::CloseReason { code, description: Some(description.to_owned()) };
    let _ = tokio::time::timeout(CLOSE_WITHIN, socket.close(Some(reason))).await;
}

/// A connection the hub knows, and whose it is.
pub struct Registration {
    credentials: Credentials,
    connection: Connection,
    /// Whether it is the user's only connection on this instance (presence: an arrival).
    first_here: bool,
}

impl Registration {
    /// Registers the connection with the hub, unless its account holds as many as it may.
    pub fn new(state: &AppState, credentials: Credentials) -> Result<Self, Refused> {
        let (connection, first_here) =
            state.realtime.hub.register_in_session(&credentials.principal, credentials.session.clone())?;
        Ok(Self { credentials, connection, first_here })
    }
}

/// How a socket starts. One whose handshake carried a token is registered with the hub before
/// the `101` goes out, so that a client may rely on hearing everything sent to it after the
/// handshake (a direct message written the moment the socket opened, say).
pub enum Opening {
    Registered(Registration),
    /// No token yet: the first message must be `auth`.
    Anonymous,
}

/// Runs a socket until either side closes it.
pub async fn run(state: Arc<AppState>, socket: Writer, mut stream: Reader, opening: Opening) {
    // The steps that run once or per request are boxed, so that the state an idle socket keeps
    // in memory is only the loop's: tens of thousands of sockets each carry this future.
    let Registration { credentials, mut connection, first_here } = match opening {
        Opening::Registered(registration) => registration,
        Opening::Anonymous => {
            let Some(credentials) = Box::pin(first_message_auth(&state, &socket, &mut stream)).await else {
                return;
            };
            match Registration::new(&state, credentials) {
                Ok(registration) => registration,
                Err(refused) => {
                    let _ = socket.text(SocketError::new("too_many_sockets", refused.to_string()).frame()).await;
                    close(&socket, CloseCode::Policy, &refused.to_string()).await;
                    return;
                }
            }
        }
    };
    // From here what the hub has for this socket, when nothing waits ahead of it, is written at
    // once by whoever hands it over (see `Mailbox`).
    connection.queue.write_through(Arc::new(socket.clone()));
    state.metrics.websocket_opened();
    Box::pin(state.realtime.opened(&connection, first_here)).await;
    let mut conversation = Conversation {
        state: state.clone(),
        principal: credentials.principal,
        expires: credentials.deadline(),
        id: connection.id,
    };
    conversation.serve(&mut connection, socket, stream).await;
    state.metrics.websocket_closed();
    Box::pin(state.realtime.closed(connection)).await;
}

/// Waits for `{"type": "auth", "token": ...}`; anything else, a bad token or silence closes the
/// socket (1008) after an `error` event saying why.
async fn first_message_auth(state: &AppState, socket: &Writer, stream: &mut Reader) -> Option<Credentials> {
    let deadline = Instant::now() + AUTH_WITHIN;
    let refusal = loop {
        let message = match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) => break SocketError::new("unauthorized", "No auth message within 10 s."),
            Ok(None | Some(Ok(Incoming::Close(_)))) => return None,
            Ok(Some(Err(_))) => break SocketError::new("bad_request", "Unreadable frame."),
            Ok(Some(Ok(message))) => message,
        };
        match message {
            Incoming::Text(text) => match ClientMessage::parse(&text) {
                Ok(ClientMessage::Auth { token }) => match authenticate(state, &token).await {
                    Ok(credentials) => return Some(credentials),
                    Err(AuthError::Unknown(cause)) => {
                        tracing::error!(error = %format!("{cause:#}"), "cannot check a socket's token");
                        break SocketError::new("internal", "Cannot check the token now; try again.");
                    }
                    Err(_) => break SocketError::new("unauthorized", "The token is invalid or expired."),
                },
                Ok(_) => {
                    break SocketError::new(
                        "unauthorized",
                        "Authenticate first: {\"type\":\"auth\",\"token\":\"...\"}.",
                    );
                }
                Err(unreadable) => break unreadable,
            },
            Incoming::Ping(bytes) => {
                if socket.pong(&bytes).await.is_err() {
                    return None;
                }
            }
            Incoming::Pong(_) => {}
            Incoming::Binary(_) => break SocketError::new("bad_request", "Only text frames are understood."),
            Incoming::Close(_) => return None,
        }
    };
    let _ = socket.text(refusal.frame()).await;
    close(socket, CloseCode::Policy, &refusal.message).await;
    None
}

/// Writes what the hub queued, once [`Mailbox::ready`] said there is something (`ready`);
/// `false` when the socket is done (the queue ended, the client went, or the hub asked for it to
/// close, which is then done).
async fn write_out(socket: &Writer, ready: bool, queue: &mut Mailbox, closing: &Closing) -> bool {
    if !ready {
        return false;
    }
    // A client that reads slowly makes this wait; the hub meanwhile queues for it and closes it
    // once its queue fills, which ends the wait too.
    tokio::select! {
        sent = socket.write_queued(queue) => sent.is_ok(),
        reason = closing.wait() => {
            close(socket, CloseCode::Other(reason.code()), reason.description()).await;
            false
        }
    }
}

/// An authenticated socket.
struct Conversation {
    state: Arc<AppState>,
    principal: Principal,
    /// When the token the socket lives by expires (moved on by `auth` with a newer one).
    expires: Instant,
    id: ConnectionId,
}

impl Conversation {
    async fn serve(&mut self, connection: &mut Connection, socket: Writer, mut stream: Reader) {
        let mut last_heard = Instant::now();
        // One timer per socket, for whichever comes first: the next ping or the token's expiry.
        let mut next_ping = Instant::now() + PING_EVERY;
        let wake = tokio::time::sleep_until(next_ping.min(self.expires));
        tokio::pin!(wake);
        let closing = connection.closing.clone();
        loop {
            let due = next_ping.min(self.expires);
            if wake.deadline() != due {
                wake.as_mut().reset(due);
            }
            tokio::select! {
                reason = closing.wait() => {
                    close(&socket, CloseCode::Other(reason.code()), reason.description()).await;
                    return;
                }
                ready = connection.queue.ready() => {
                    if !write_out(&socket, ready, &mut connection.queue, &closing).await {
                        return;
                    }
                }
                message = stream.next() => {
                    last_heard = Instant::now();
                    match message {
                        None => return,
                        Some(Ok(Incoming::Text(text))) => {
                            // What the hub queues meanwhile is written while this request waits
                            // on the database: a client that reads is never closed as slow
                            // because its own request took time.
                            let mut handling = Box::pin(self.handle(&text));
                            loop {
                                tokio::select! {
                                    () = &mut handling => break,
                                    ready = connection.queue.ready() => {
                                        if !write_out(&socket, ready, &mut connection.queue, &closing).await {
                                            return;
                                        }
                                    }
                                }
                            }
                        }
                        Some(Ok(Incoming::Binary(_))) => {
                            self.reply_error(&SocketError::new("bad_request", "Only text frames are understood."));
                        }
                        Some(Ok(Incoming::Ping(bytes))) => {
                            if socket.pong(&bytes).await.is_err() {
                                return;
                            }
                        }
                        Some(Ok(Incoming::Pong(_))) => {}
                        Some(Ok(Incoming::Close(reason))) => {
                            let _ = tokio::time::timeout(CLOSE_WITHIN, socket.close(reason)).await;
                            return;
                        }
                        Some(Err(ProtocolError::Overflow)) => {
                            close(&socket, CloseCode::Size, "frames are limited to 64 KiB").await;
                            return;
                        }
                        Some(Err(e)) => {
                            close(&socket, CloseCode::Protocol, &e.to_string()).await;
                            return;
                        }
                    }
                }
                () = &mut wake => {
                    let now = Instant::now();
                    if now >= self.expires {
                        let expired = CloseReason::Expired;
                        close(&socket, CloseCode::Other(expired.code()), expired.description()).await;
                        return;
                    }
                    if now >= next_ping {
                        if last_heard.elapsed() > SILENCE_LIMIT {
                            close(&socket, CloseCode::Away, "no pong").await;
                            return;
                        }
                        if socket.ping(b"").await.is_err() {
                            return;
                        }
                        next_ping = now + PING_EVERY;
                    }
                }
            }
        }
    }

    fn reply_error(&self, error: &SocketError) {
        self.state.realtime.hub.reply(self.id, &error.frame());
    }

    async fn handle(&mut self, text: &str) {
        let hub = &self.state.realtime.hub;
        if !hub.admit_message(self.principal.id) {
            let limit = format!(
                "Too many messages: at most {} a second from one account's sockets; this one was dropped.",
                hub.messages_per_second()
            );
            self.reply_error(&SocketError::new("rate_limited", limit));
            return;
        }
        let outcome = match ClientMessage::parse(text) {
            Ok(message) => self.act(message).await,
            Err(unreadable) => Err(unreadable),
        };
        if let Err(error) = outcome {
            self.reply_error(&error);
        }
    }

    async fn act(&mut self, message: ClientMessage) -> Result<(), SocketError> {
        let chat = &self.state.chat;
        let hub = &self.state.realtime.hub;
        let id = self.id;
        match message {
            ClientMessage::Auth { token } => {
                // A fresh token for the same account (a client refreshing before expiry) extends
                // the socket to that token's expiry, and is what the socket is checked against.
                match authenticate(&self.state, &token).await {
                    Ok(credentials) if credentials.principal.id == self.principal.id => {
                        self.principal = credentials.principal;
                        self.expires = self.expires.max(credentials.deadline());
                        hub.reauthenticated(id, &self.principal, credentials.session);
                    }
                    Ok(_) => return Err(SocketError::new("bad_request", "This socket belongs to another account.")),
                    Err(_) => return Err(SocketError::new("unauthorized", "The token is invalid or expired.")),
                }
            }
            ClientMessage::Join { room } => {
                let room = chat.join(&self.principal, &room).await?;
                hub.join(id, room.slug.as_str());
            }
            ClientMessage::Leave { room } => {
                hub.leave(id, &room);
            }
            ClientMessage::Message { room, content, attachments } => {
                let (room, message) = chat.say(&self.principal, &room, &content, &attachments).await?;
                // Saying something in a room is joining it.
                hub.join(id, room.slug.as_str());
                let frame = event_frame("chat.message", &MessageResponse::new(message, Some(&room.slug)));
                hub.publish(&Target::Room(room.slug.to_string()), &frame).await;
            }
            ClientMessage::Dm { to, content, attachments } => {
                let message = chat.send_direct(&self.principal, to, &content, &attachments).await?;
                let frame = event_frame("chat.dm", &MessageResponse::new(message, None));
                hub.publish(&Target::Users(vec![workbench_users::UserId(to), self.principal.id]), &frame).await;
            }
            ClientMessage::Typing { to, room } => {
                let from = self.principal.id;
                let (target, conversation, data) = match chat.typing_in(&self.principal, to, room.as_deref()).await? {
                    Typing::Direct(to) => (
                        Target::Users(vec![to]),
                        workbench_chat::Conversation::direct(from, to).key(),
                        serde_json::json!({"from": from.0, "to": to.0}),
                    ),
                    Typing::Room(room) => (
                        Target::RoomExcept { room: room.to_string(), except: from },
                        format!("room:{room}"),
                        serde_json::json!({"from": from.0, "room": room.as_str()}),
                    ),
                };
                // More than one every two seconds per conversation is dropped without a word: a
                // client sends one per keystroke.
                if hub.admit_typing(from, conversation) {
                    hub.publish(&target, &event_frame("chat.typing", &data)).await;
                }
            }
            ClientMessage::History { room, with, before, after, limit } => {
                let page = HistoryPage::parse(before, after, limit).map_err(|e| SocketError::invalid(&e))?;
                let answer = match (room, with) {
                    (Some(room), None) => {
                        let (room, messages) = chat.room_history(&self.principal, &room, page).await?;
                        HistoryAnswer {
                            room: Some(room.slug.to_string()),
                            with: None,
                            messages: messages.into_iter().map(|m| MessageResponse::new(m, Some(&room.slug))).collect(),
                        }
                    }
                    (None, Some(other)) => {
                        let messages = chat.direct_history(&self.principal, other, page).await?;
                        HistoryAnswer {
                            room: None,
                            with: Some(other),
                            messages: messages.into_iter().map(|m| MessageResponse::new(m, None)).collect(),
                        }
                    }
                    _ => return Err(SocketError::new("bad_request", "history takes either `room` or `with`.")),
                };
                hub.reply(id, &event_frame("history", &answer));
            }
            ClientMessage::Subscribe { topic } => {
                if let Some(slug) = topic.strip_prefix(RADIO_TOPIC_PREFIX) {
                    // A station's events: for whoever may listen to it. A change of the
                    // station's access during the check sweeps its topic before this socket is
                    // in it, so the check is made again after any sweep.
                    loop {
                        let sweeps = hub.sweeps();
                        if !self.state.radio.may_listen(&self.principal, slug).await {
                            return Err(SocketError::new("not_found", format!("No station {slug:?}.")));
                        }
                        if hub.subscribe_unless_swept(id, &topic, sweeps) {
                            return Ok(());
                        }
                    }
                }
                if topic != SYSTEM_TOPIC {
                    return Err(SocketError::new(
                        "not_found",
                        format!("No topic {topic:?}; the topics are \"system\" and \"radio:{{slug}}\"."),
                    ));
                }
                if !self.principal.role.is_moderator() {
                    return Err(SocketError::new("forbidden", "Only moderators and admins see system metrics."));
                }
                hub.subscribe(id, SYSTEM_TOPIC);
            }
            ClientMessage::Unsubscribe { topic } => hub.unsubscribe(id, &topic),
            ClientMessage::Ping => {
                hub.reply(id, &event_frame("pong", &serde_json::json!({})));
            }
        }
        Ok(())
    }
}
