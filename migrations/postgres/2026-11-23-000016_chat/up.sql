-- Chat: rooms named by slug, their members, and every message (to a room or directly to a user).
--
-- A room's creator is its first member. Joining a public room on the socket records membership
-- too, so that "who shares a room with whom" (presence) is one query. Messages are read by
-- conversation (`room:<id>` or `dm:<low>:<high>`) and id, so one index serves room history,
-- direct history and "what came after the last id I saw".
CREATE TABLE chat_rooms (
    id          BIGSERIAL PRIMARY KEY,
    slug        TEXT      NOT NULL CHECK (slug ~ '^[a-z0-9-]{1,64}$'),
    description TEXT,
    is_private  BOOLEAN   NOT NULL,
    created_by  BIGINT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  TIMESTAMP NOT NULL,
    CONSTRAINT chat_rooms_slug_unique UNIQUE (slug)
);

CREATE TABLE chat_members (
    room_id  BIGINT    NOT NULL REFERENCES chat_rooms (id) ON DELETE CASCADE,
    user_id  BIGINT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    added_at TIMESTAMP NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX chat_members_user ON chat_members (user_id, room_id);

CREATE TABLE chat_messages (
    id           BIGSERIAL PRIMARY KEY,
    conversation TEXT      NOT NULL,
    room_id      BIGINT    REFERENCES chat_rooms (id) ON DELETE CASCADE,
    sender_id    BIGINT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    recipient_id BIGINT    REFERENCES users (id) ON DELETE CASCADE,
    content      TEXT      NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    CONSTRAINT chat_messages_one_target CHECK ((room_id IS NULL) <> (recipient_id IS NULL))
);
CREATE INDEX chat_messages_conversation ON chat_messages (conversation, id);
-- Direct-message partners, for presence.
CREATE INDEX chat_messages_sender_direct ON chat_messages (sender_id, recipient_id) WHERE recipient_id IS NOT NULL;
CREATE INDEX chat_messages_recipient_direct ON chat_messages (recipient_id, sender_id) WHERE recipient_id IS NOT NULL;
