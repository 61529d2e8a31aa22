-- Notifications: one row per recipient, newest first by id; each user's total and unread
-- counts kept beside them by the repository in the same transaction as each write, so that a
-- count is a counter, never a count of rows.
CREATE TABLE notifications (
    id           BIGSERIAL PRIMARY KEY,
    recipient_id BIGINT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind         TEXT      NOT NULL,
    actor_id     BIGINT    REFERENCES users (id) ON DELETE SET NULL,
    subject_type TEXT      NOT NULL,
    subject_id   BIGINT    NOT NULL,
    title        TEXT      NOT NULL,
    body         TEXT      NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    read_at      TIMESTAMP
);
CREATE INDEX notifications_inbox ON notifications (recipient_id, id);
CREATE INDEX notifications_unread ON notifications (recipient_id, id) WHERE read_at IS NULL;
CREATE INDEX notifications_actor ON notifications (actor_id) WHERE actor_id IS NOT NULL;

CREATE TABLE notification_inboxes (
    user_id BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    total   BIGINT NOT NULL DEFAULT 0,
    unread  BIGINT NOT NULL DEFAULT 0
);

-- What a user set for a kind; the defaults are not stored.
CREATE TABLE notification_preferences (
    user_id BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind    TEXT    NOT NULL,
    in_app  BOOLEAN NOT NULL,
    email   TEXT    NOT NULL CHECK (email IN ('off', 'instant', 'daily')),
    PRIMARY KEY (user_id, kind)
);

-- Who follows what (`following`), or asked not to follow what they follow by default (a task
-- they own or are assigned: `following` false). Read by subject.
CREATE TABLE follows (
    subject_type TEXT      NOT NULL,
    subject_id   BIGINT    NOT NULL,
    user_id      BIGINT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    following    BOOLEAN   NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (subject_type, subject_id, user_id)
);
CREATE INDEX follows_user ON follows (user_id);
