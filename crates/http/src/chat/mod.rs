//! Chat over REST: rooms, their members, and the history of rooms and direct conversations.
//! Messages are sent over the WebSocket (`http::ws`), which stores each before it delivers it;
//! these routes read what was stored.

use std::convert::Infallible;

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};
use workbench_chat::{Counterpart, HistoryPage, Message, Room};
use workbench_core::{PageRequest, TypeFailures, Validator};
use workbench_realtime::{Target, event_frame};

pub mod dto;
mod errors;

use crate::body::{lenient, nullable};
use crate::extract::{CurrentUser, Json, Query};
use crate::groups::Routes;
use crate::idempotency::{Created, IdempotencyKeySchema};
use crate::pagination::{DataList, PageQuery, Paginated, paginated};
use crate::problem::{ApiError, Problem};
use crate::responses::{BadRequest, Forbidden, NOT_JSON_OR_BAD_KEY, NotFound, Unauthorized, Unprocessable};
use crate::state::AppState;
use dto::{
    AddMemberRequest, ChatSearchQuery, ConversationResponse, CreateRoomRequest, EditMessageRequest, HistoryQuery,
    MarkReadRequest, MembershipResponse, MessageResponse, ReactionEvent, ReadReceipt, RoomResponse, RoomSlugSchema,
};

fn page(query: HistoryQuery) -> Result<HistoryPage, ApiError> {
    Ok(HistoryPage::parse(query.before, query.after, query.limit)?)
}

/// This domain's routes.
pub fn routes(routes: &mut Routes<'_, '_>) {
    if let Some(cfg) = routes.under("/chat") {
        cfg.service(rooms)
            .service(create_room)
            .service(add_member)
            .service(room_messages)
            .service(direct_messages)
            .service(search)
            .service(edit_message)
            .service(delete_message)
            .service(react)
            .service(unreact)
            .service(conversations)
            .service(mark_read);
    }
}

/// The rooms the caller may see: every public room and the private rooms they belong to (every
/// room for moderators and admins), by name. Not paginated.
#[utoipa::path(
    tag = "chat",
    operation_id = "list_chat_rooms",
    security(("bearer_auth" = ["chat:read"])),
    responses(
        (status = 200, body = DataList<RoomResponse>),
        (status = 401, response = Unauthorized),
    )
)]
#[get("/chat/rooms")]
pub async fn rooms(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
) -> Result<web::Json<DataList<RoomResponse>>, ApiError> {
    let rooms = state.chat.rooms(&user).await?;
    Ok(web::Json(DataList { data: rooms.into_iter().map(RoomResponse::from).collect() }))
}

/// Create a room; the caller becomes its creator and first member. Honours `Idempotency-Key`.
#[utoipa::path(
    tag = "chat",
    operation_id = "create_chat_room",
    security(("bearer_auth" = ["chat:write"])),
    params(("Idempotency-Key" = inline(Option<IdempotencyKeySchema>), Header, nullable = false, description = "Replays the first response for 24 h")),
    request_body = CreateRoomRequest,
    responses(
        (status = 201, body = RoomResponse, headers(("Location" = String)),
            links(
                ("ListRoomMessages" = (operation_id = "list_chat_room_messages", parameters(("room" = "$response.body#/name")))),
                ("AddRoomMember" = (operation_id = "add_chat_room_member", parameters(("room" = "$response.body#/name")))),
            )),
        (status = 400, description = NOT_JSON_OR_BAD_KEY, body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 409, description = "A room of this name exists, or the same Idempotency-Key is still being processed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, all listed (`name` not a slug)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/chat/rooms")]
pub async fn create_room(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    body: Json<CreateRoomRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    state
        .idempotency
        .run(&req, user.id, &body, || async {
            let room = state.chat.create_room(&user, body.clone().into_draft()).await?;
            Ok(Created {
                location: Some(format!("/api/v1/chat/rooms/{}/messages", room.slug)),
                etag: None,
                body: serde_json::value::to_raw_value(&RoomResponse::from(room)).map_err(ApiError::internal)?,
            })
        })
        .await
}

/// Add a user to a room: only its creator or a moderator may (`403` for anyone else who can see
/// the room). Adding a member twice changes nothing and answers `201` again.
#[utoipa::path(
    tag = "chat",
    operation_id = "add_chat_room_member",
    security(("bearer_auth" = ["chat:write"])),
    params(("room" = inline(RoomSlugSchema), Path, description = "The room's name")),
    request_body = AddMemberRequest,
    responses(
        (status = 201, body = MembershipResponse),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 422, description = "`user_id` missing, of the wrong type or not an existing user", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/chat/rooms/{room}/members")]
pub async fn add_member(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    room: web::Path<String>,
    body: Json<AddMemberRequest>,
) -> Result<HttpResponse, ApiError> {
    let mut failures = TypeFailures::default();
    let member = lenient("user_id", body.into_inner().user_id, &mut failures);
    let mut v = Validator::seeded(failures);
    let member = v.required("user_id", member, Ok::<_, Infallible>);
    let member = match v.finish_with(member) {
        Ok(member) => member,
        Err(errors) => {
            // The room is checked first: a client that may not see it learns nothing about the body.
            state.chat.visible_room(&user, &room).await?;
            return Err(errors.into());
        }
    };
    let (room, _) = state.chat.add_member(&user, &room, member).await?;
    Ok(HttpResponse::Created().json(MembershipResponse { room: room.slug.to_string(), user_id: member }))
}

/// A page of a room's messages, oldest first: the newest `limit` by default, older ones with
/// `before`, and what came after the last message a client saw with `after`. Private rooms are
/// read by their members (and moderators) only.
#[utoipa::path(
    tag = "chat",
    operation_id = "list_chat_room_messages",
    security(("bearer_auth" = ["chat:read"])),
    params(("room" = inline(RoomSlugSchema), Path, description = "The room's name"), HistoryQuery),
    responses(
        (status = 200, body = DataList<MessageResponse>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 422, response = Unprocessable),
    )
)]
#[get("/chat/rooms/{room}/messages")]
pub async fn room_messages(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    room: web::Path<String>,
    query: Query<HistoryQuery>,
) -> Result<web::Json<DataList<MessageResponse>>, ApiError> {
    let page = page(query.into_inner())?;
    let (room, messages) = state.chat.room_history(&user, &room, page).await?;
    Ok(web::Json(DataList { data: messages.into_iter().map(|m| MessageResponse::new(m, Some(&room.slug))).collect() }))
}

/// A page of the caller's direct messages with one user, oldest first, paged like a room's.
#[utoipa::path(
    tag = "chat",
    operation_id = "list_direct_messages",
    security(("bearer_auth" = ["chat:read"])),
    params(("user_id" = i64, Path, minimum = 1, description = "The other user's id"), HistoryQuery),
    responses(
        (status = 200, body = DataList<MessageResponse>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 422, response = Unprocessable),
    )
)]
#[get("/chat/dm/{user_id}")]
pub async fn direct_messages(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    other: web::Path<i64>,
    query: Query<HistoryQuery>,
) -> Result<web::Json<DataList<MessageResponse>>, ApiError> {
    let page = page(query.into_inner())?;
    let messages = state.chat.direct_history(&user, other.into_inner(), page).await?;
    Ok(web::Json(DataList { data: messages.into_iter().map(|m| MessageResponse::new(m, None)).collect() }))
}

/// The messages the caller may read (their rooms' and their direct messages) whose content
/// contains `q`, newest first, found through an index of the text: in one conversation with
/// `with` (a user) or `room` (a room they are a member of), else in all of theirs.
/// `pagination.total` counts at most 1,000 matches (1,000 when more match); pages past it are
/// still served, and `before` pages back from any message.
#[utoipa::path(
    tag = "chat",
    operation_id = "search_chat_messages",
    security(("bearer_auth" = ["chat:read"])),
    params(ChatSearchQuery),
    responses(
        (status = 200, body = Paginated<MessageResponse>, headers(("Link" = String))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 422, response = Unprocessable),
    )
)]
#[get("/chat/search")]
pub async fn search(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    query: Query<ChatSearchQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let page = PageRequest::from_signed(query.page, query.per_page)?;
    let found =
        state.chat.search(&user, query.q.as_deref(), query.with, query.room.as_deref(), query.before, page).await?;
    Ok(paginated(&req, found.map(|f| MessageResponse::new(f.message, f.room.as_ref()))))
}

/// Who hears of a change to `message`: the sockets in its room, or both sides of its direct
/// conversation, on every instance.
async fn announce(state: &AppState, kind: &str, message: Message, room: Option<Room>) -> MessageResponse {
    let target = audience(&message, room.as_ref());
    let shown = MessageResponse::new(message, room.as_ref().map(|r| &r.slug));
    state.realtime.hub.publish(&target, &event_frame(kind, &shown)).await;
    shown
}

/// Correct a message: its author only (anyone else who can read it: 403), within 15 minutes of
/// sending it (later, or once deleted: 409). Those in its conversation get `chat.edited`.
#[utoipa::path(
    tag = "chat",
    operation_id = "edit_chat_message",
    security(("bearer_auth" = ["chat:write"])),
    params(("id" = i64, Path, minimum = 1, description = "Message id")),
    request_body = EditMessageRequest,
    responses(
        (status = 200, body = MessageResponse),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, description = "Sent more than 15 minutes ago, or deleted", body = Problem, content_type = "application/problem+json"),
        (status = 422, response = Unprocessable),
    )
)]
#[patch("/chat/messages/{id}")]
pub async fn edit_message(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
    body: Json<EditMessageRequest>,
) -> Result<web::Json<MessageResponse>, ApiError> {
    let mut failures = TypeFailures::default();
    let content = lenient("content", body.into_inner().content, &mut failures);
    let mut v = Validator::seeded(failures);
    let content = v.required("content", content, Ok::<_, Infallible>);
    v.finish()?;
    let content = content.unwrap_or_default();
    let (message, room) = state.chat.edit(&user, id.into_inner(), &content).await?;
    Ok(web::Json(announce(&state, "chat.edited", message, room).await))
}

/// Take a message back: its author, the room's creator or a moderator (anyone else who can read
/// it: 403). It stays in history as a tombstone (`content: null`, `deleted_at`); those in its
/// conversation get `chat.deleted`.
#[utoipa::path(
    tag = "chat",
    operation_id = "delete_chat_message",
    security(("bearer_auth" = ["chat:write"])),
    params(("id" = i64, Path, minimum = 1, description = "Message id")),
    responses(
        (status = 204, description = "Deleted (or already a tombstone)"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
#[delete("/chat/messages/{id}")]
pub async fn delete_message(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let (message, room) = state.chat.delete(&user, id.into_inner()).await?;
    announce(&state, "chat.deleted", message, room).await;
    Ok(HttpResponse::NoContent().finish())
}

/// The sockets of `message`'s conversation: its room's, or both sides of a direct one.
fn audience(message: &Message, room: Option<&Room>) -> Target {
    match room {
        Some(room) => Target::Room(room.slug.to_string()),
        None => Target::Users(message.recipient_id.into_iter().chain([message.sender_id]).collect()),
    }
}

/// Tells the conversation of `message` that the caller reacted with `emoji` (or took it back),
/// `count` reacting so now.
async fn announce_reaction(
    state: &AppState,
    caller: &workbench_users::Principal,
    (message, room, count): (Message, Option<Room>, u64),
    emoji: String,
    added: bool,
) {
    let event = ReactionEvent {
        message_id: message.id.0,
        room: room.as_ref().map(|r| r.slug.to_string()),
        emoji,
        count,
        user_id: caller.id.0,
        added,
    };
    let frame = event_frame("chat.reaction", &event);
    state.realtime.hub.publish(&audience(&message, room.as_ref()), &frame).await;
}

/// React to a message the caller may read with one emoji (at most 20 different ones a message:
/// one more is a 409). Reacting twice changes nothing. Those in its conversation get
/// `chat.reaction`.
#[utoipa::path(
    tag = "chat",
    operation_id = "react_to_chat_message",
    security(("bearer_auth" = ["chat:write"])),
    params(
        ("id" = i64, Path, minimum = 1, description = "Message id"),
        ("emoji" = String, Path, description = "One emoji (one grapheme), percent-encoded"),
    ),
    responses(
        (status = 204, description = "Reacted"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 409, description = "The message carries 20 other reactions, or was deleted", body = Problem, content_type = "application/problem+json"),
        (status = 422, response = Unprocessable),
    )
)]
#[put("/chat/messages/{id}/reactions/{emoji}")]
pub async fn react(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    path: web::Path<(i64, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, emoji) = path.into_inner();
    let reacted = state.chat.react(&user, id, &emoji).await?;
    announce_reaction(&state, &user, reacted, emoji, true).await;
    Ok(HttpResponse::NoContent().finish())
}

/// Take the caller's reaction back (one never given changes nothing). Those in the message's
/// conversation get `chat.reaction` with `added: false`.
#[utoipa::path(
    tag = "chat",
    operation_id = "unreact_to_chat_message",
    security(("bearer_auth" = ["chat:write"])),
    params(
        ("id" = i64, Path, minimum = 1, description = "Message id"),
        ("emoji" = String, Path, description = "One emoji (one grapheme), percent-encoded"),
    ),
    responses(
        (status = 204, description = "Taken back"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 422, response = Unprocessable),
    )
)]
#[delete("/chat/messages/{id}/reactions/{emoji}")]
pub async fn unreact(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    path: web::Path<(i64, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, emoji) = path.into_inner();
    let (message, room, count) = state.chat.unreact(&user, id, &emoji).await?;
    // Taking back a reaction never given changed nothing: nobody is told.
    if let Some(count) = count {
        announce_reaction(&state, &user, (message, room, count), emoji, false).await;
    }
    Ok(HttpResponse::NoContent().finish())
}

/// The caller's conversations (the rooms they belong to and their direct conversations, each
/// with a message), latest activity first, each with its last message and how many messages of
/// others came after the caller's read mark.
#[utoipa::path(
    tag = "chat",
    operation_id = "list_chat_conversations",
    security(("bearer_auth" = ["chat:read"])),
    params(PageQuery),
    responses(
        (status = 200, body = Paginated<ConversationResponse>, headers(("Link" = String))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 422, response = Unprocessable),
    )
)]
#[get("/chat/conversations")]
pub async fn conversations(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    query: Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = query.into_inner().page()?;
    let found = state.chat.conversations(&user, page).await?;
    Ok(paginated(&req, found.map(ConversationResponse::from)))
}

/// Move the caller's read mark in a conversation forward to `up_to` (a message of it; never
/// back: an older one changes nothing). The other side of a direct conversation, or the room's
/// sockets, get `chat.read {by, with | room, up_to}`.
#[utoipa::path(
    tag = "chat",
    operation_id = "mark_chat_read",
    security(("bearer_auth" = ["chat:write"])),
    request_body = MarkReadRequest,
    responses(
        (status = 204, description = "Marked"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 422, response = Unprocessable),
    )
)]
#[post("/chat/read")]
pub async fn mark_read(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    body: Json<MarkReadRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let mut failures = TypeFailures::default();
    let with = nullable("with", body.with, &mut failures);
    let room = nullable("room", body.room, &mut failures);
    let up_to = nullable("up_to", body.up_to, &mut failures);
    Validator::seeded(failures).finish()?;
    let Some(counterpart) = state.chat.mark_read(&user, with, room.as_deref(), up_to).await? else {
        return Ok(HttpResponse::NoContent().finish());
    };
    let up_to = up_to.unwrap_or_default();
    let (target, receipt) = match counterpart {
        Counterpart::Direct(other) => {
            (Target::Users(vec![other]), ReadReceipt { by: user.id.0, with: Some(other.0), room: None, up_to })
        }
        Counterpart::Room(slug) => (
            Target::Room(slug.to_string()),
            ReadReceipt { by: user.id.0, with: None, room: Some(slug.to_string()), up_to },
        ),
    };
    state.realtime.hub.publish(&target, &event_frame("chat.read", &receipt)).await;
    Ok(HttpResponse::NoContent().finish())
}
