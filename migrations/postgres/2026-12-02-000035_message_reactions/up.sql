-- Reactions to chat messages: one row per message, emoji and user. A page of history reads its
-- messages' reactions in one grouped query along the primary key.
CREATE TABLE chat_reactions (
    message_id BIGINT    NOT NULL REFERENCES chat_messages (id) ON DELETE CASCADE,
    emoji      TEXT      NOT NULL CHECK (length(emoji) BETWEEN 1 AND 32),
    user_id    BIGINT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (message_id, emoji, user_id)
);
