-- Real rows in every domain, written the way the store writes them (triggers fire: tags are
-- mirrored into task_tags, counters kept, the market counted), with values that are easy to
-- lose on the way: microseconds, quotes, newlines, non-ASCII text, JSON kept as text, NULLs.
INSERT INTO users (id, username, username_key, email, password_hash, role, status, first_name, last_name, bio, avatar_url, totp_enabled, search_text, created_at, updated_at, token_generation, last_seen_at) VALUES
 (1, 'Alice', 'alice', 'alice@example.com', '$2b$12$abcdefghijklmnopqrstuv0123456789ABCDEFGHIJKLMNOPQRSTu', 'admin', 'active', 'Älice', 'O''Neil', 'line one
line two "quoted" \ backslash', 'https://example.com/a.png', TRUE, 'alice älice o''neil', '2026-03-04 05:06:07.001234', '2026-03-05 05:06:07.000001', 3, '2026-03-06 07:08:09.123456'),
 (2, 'bob', 'bob', 'bob@example.com', '$2b$12$zyxwvutsrqponmlkjihgfe9876543210ZYXWVUTSRQPONMLKJIHGFEd', 'user', 'active', NULL, NULL, NULL, NULL, FALSE, 'bob', '2026-03-04 05:06:08', '2026-03-04 05:06:08', 0, NULL),
 (3, 'carol', 'carol', 'carol@example.com', NULL, 'moderator', 'disabled', 'Carol', '日本', NULL, NULL, FALSE, 'carol 日本', '2026-03-04 05:06:09.5', '2026-03-04 05:06:09.5', 1, NULL);
INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, signed_in_at, created_at, expires_at, used_at, revoked_at) VALUES
 (1, 1, 'fam-1', 'hash-1', '2026-03-04 05:00:00.000002', '2026-03-04 06:00:00.000001', '2026-04-04 06:00:00', NULL, NULL),
 (2, 2, 'fam-2', 'hash-2', '2026-03-04 06:00:01', '2026-03-04 06:00:01', '2026-04-04 06:00:01', '2026-03-04 07:00:00', '2026-03-04 07:00:00');
INSERT INTO totp_credentials (user_id, secret, last_step, failed_attempts, locked_until, created_at) VALUES
 (1, 'JBSWY3DPEHPK3PXP', 59000001, 1, NULL, '2026-03-04 05:10:00');
INSERT INTO totp_recovery_codes (id, user_id, code_hash, created_at, used_at) VALUES
 (1, 1, 'rc-hash-1', '2026-03-04 05:10:00', NULL), (2, 1, 'rc-hash-2', '2026-03-04 05:10:00', '2026-03-05 00:00:00');
INSERT INTO oauth_identities (provider, subject, user_id, email, created_at) VALUES ('github', '12345', 2, 'bob@example.com', '2026-03-04 05:11:00');
INSERT INTO oauth_states (state_hash, provider, pkce_verifier, created_at, expires_at, browser_hash) VALUES ('st-1', 'google', 'verifier', '2026-03-04 05:12:00', '2026-03-04 05:22:00', 'bh');
INSERT INTO mfa_tokens (token_hash, user_id, provider, created_at, expires_at) VALUES ('mfa-1', 1, 'github', '2026-03-04 05:13:00', '2026-03-04 05:18:00');
INSERT INTO oauth_states (state_hash, provider, pkce_verifier, created_at, expires_at, browser_hash, nonce) VALUES ('st-2', 'corp-sso', 'verifier-2', '2026-03-04 05:12:00', '2026-03-04 05:22:00', 'bh-2', 'nonce-2');
INSERT INTO mfa_tokens (token_hash, user_id, provider, created_at, expires_at, idp_issuer, idp_subject, idp_sid) VALUES ('mfa-2', 1, 'corp-sso', '2026-03-04 05:13:00', '2026-03-04 05:18:00', 'https://id.example/realms/corp', 'ann-sub', 'sid-9');
INSERT INTO oauth_identities (provider, subject, user_id, email, created_at) VALUES ('https://id.example/realms/corp', 'ann-sub', 1, NULL, '2026-03-04 05:11:30');
INSERT INTO provider_sessions (family_id, user_id, issuer, subject, sid, created_at) VALUES
 ('fam-1', 1, 'https://id.example/realms/corp', 'ann-sub', 'sid-1', '2026-03-04 06:00:00.000001'),
 ('fam-2', 2, 'https://id.example/realms/corp', 'bob-sub', NULL, '2026-03-04 06:00:01');
INSERT INTO logout_tokens (issuer, jti, expires_at) VALUES ('https://id.example/realms/corp', 'jti-1', '2026-03-04 06:10:00');
INSERT INTO audit_log (id, actor_id, action, target_id, ip, user_agent, details, created_at) VALUES
 (1, 1, 'user.role_changed', 2, '127.0.0.1', 'curl/8', '{"from":"user","to":"admin"}', '2026-03-04 05:14:00.000100');
INSERT INTO projects (id, name, description, owner_id, archived, version, created_at, updated_at) VALUES
 (1, 'Launch', 'The launch', 1, FALSE, 2, '2026-03-04 05:20:00', '2026-03-04 05:21:00'),
 (2, 'Old', NULL, 2, TRUE, 1, '2026-03-04 05:20:01', '2026-03-04 05:20:01');
INSERT INTO project_members (project_id, user_id, role, joined_at) VALUES (1, 1, 'admin', '2026-03-04 05:20:00'), (1, 2, 'editor', '2026-03-04 05:22:00'), (2, 2, 'admin', '2026-03-04 05:20:01');
INSERT INTO project_invites (id, project_id, token_digest, role, max_uses, uses, expires_at, created_by, created_at) VALUES (1, 1, 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'viewer', 5, 1, '2026-04-04 00:00:00', 1, '2026-03-04 05:23:00');
INSERT INTO tasks (id, title, description, status, priority, priority_rank, due_date, owner_id, assignee_id, completed_at, version, search_text, created_at, updated_at, tags, project_id, recurrence, previous_id) VALUES
 (1, 'Write the plan', 'with "quotes" and
newlines', 'completed', 'high', 3, '2026-03-10 00:00:00', 1, 2, '2026-03-05 10:00:00.654321', 4, 'write the plan', '2026-03-04 05:30:00.000001', '2026-03-05 10:00:00.654321', '["work","urgent"]', NULL, 'FREQ=WEEKLY;BYDAY=MO', NULL),
 (2, 'Write the plan', NULL, 'pending', 'medium', 2, '2026-03-17 00:00:00', 1, 2, NULL, 1, 'write the plan', '2026-03-05 10:00:00.654321', '2026-03-05 10:00:00.654321', '["work","urgent"]', NULL, 'FREQ=WEEKLY;BYDAY=MO', 1),
 (3, 'Ship it ✓', NULL, 'in_progress', 'low', 1, NULL, 2, NULL, NULL, 7, 'ship it ✓', '2026-03-04 05:31:00', '2026-03-04 05:40:00', '[]', 1, NULL, NULL),
 (4, 'Gone soon', NULL, 'pending', 'low', 1, NULL, 3, NULL, NULL, 1, 'gone soon', '2026-03-04 05:32:00', '2026-03-04 05:32:00', '["x"]', NULL, NULL, NULL);
-- A deleted task: its id stays used (the sequence is ahead of the largest id) and the counters
-- keep a row at zero.
DELETE FROM tasks WHERE id = 4;
-- Task structure: a done bucket beside the one each project starts with, fields with values on a
-- project task, a subtask, a blocker and a related task.
INSERT INTO buckets (id, project_id, name, task_limit, done, position, created_at, updated_at) VALUES
 (3, 1, 'Done', 5, TRUE, 1, '2026-03-04 05:33:00', '2026-03-04 05:34:00');
INSERT INTO project_fields (id, project_id, name, kind, options, required, created_at) VALUES
 (1, 1, 'Room', 'text', NULL, FALSE, '2026-03-04 05:35:00'),
 (2, 1, 'Points', 'number', NULL, TRUE, '2026-03-04 05:35:01'),
 (3, 1, 'Size', 'select', '["S","M"]', FALSE, '2026-03-04 05:35:02');
UPDATE tasks SET bucket_id = 1, position = 98305, fields = '{"1":"Kitchen","2":3.5}' WHERE id = 3;
UPDATE tasks SET parent_id = 1 WHERE id = 2;
INSERT INTO task_relations (task_id, kind, other_id, created_at) VALUES
 (3, 'blocks', 2, '2026-03-04 05:36:00'),
 (1, 'relates', 3, '2026-03-04 05:36:01');
INSERT INTO task_comments (id, task_id, author_id, body, created_at, updated_at) VALUES (1, 1, 2, 'Looks good 👍', '2026-03-04 06:00:00', '2026-03-04 06:00:00');
INSERT INTO calendar_objects (task_id, uid, name, source) VALUES (2, 'a1b2@phone.example', 'a1b2.ics', 'BEGIN:VCALENDAR
VERSION:2.0
BEGIN:VTODO
UID:a1b2@phone.example
SUMMARY:Write the plan
X-APP:kept
END:VTODO
END:VCALENDAR
');
INSERT INTO categories (id, name, name_key, slug, description, version, created_at, updated_at) VALUES (1, 'Laptops', 'laptops', 'laptops', 'Portable', 1, '2026-03-01 00:00:00', '2026-03-01 00:00:00');
INSERT INTO products (id, name, name_key, category_id, brand, brand_key, model, description, price_cents, currency, warranty_months, warranty_conditions, manufacturer_website, specifications, status, search_text, version, created_at, updated_at) VALUES
 (1, 'ThinkPad X1', 'thinkpad x1', 1, 'Lenovo', 'lenovo', 'Gen 12', NULL, 199999, 'EUR', 24, NULL, 'https://lenovo.com', '{"ram":"32 GB","cpu":{"cores":12}}', 'active', 'thinkpad x1 lenovo', 3, '2026-03-01 00:00:00', '2026-03-02 00:00:00');
INSERT INTO user_products (id, user_id, product_id, serial_number, purchase_date, purchase_price_cents, warranty_expires, status, notes, version, created_at, updated_at, tradeable) VALUES
 (1, 1, 1, 'SN-1', '2026-01-31', 180000, '2028-01-31', 'active', 'mine', 2, '2026-03-02 00:00:00', '2026-03-02 00:00:00', TRUE),
 (2, 2, 1, 'SN-2', '2025-02-28', NULL, '2027-02-28', 'active', NULL, 1, '2026-03-02 00:00:01', '2026-03-02 00:00:01', TRUE);
INSERT INTO warranty_reminders (user_product_id, warranty_expires, reminded_at) VALUES (2, '2027-02-28', '2026-03-03 09:00:00');
INSERT INTO trades (id, parent_id, proposer_id, recipient_id, message, status, expires_at, version, created_at, updated_at) VALUES
 (1, NULL, 1, 2, 'Swap?', 'open', '2026-04-01 00:00:00', 1, '2026-03-03 00:00:00', '2026-03-03 00:00:00');
INSERT INTO trade_items (trade_id, user_product_id, side) VALUES (1, 1, 'offered'), (1, 2, 'requested');
INSERT INTO files (id, owner_id, filename, name_key, content_type, size, kind, sha256, width, height, audio, task_id, user_product_id, blob_key, thumbnail_key, created_at) VALUES
 (1, 1, 'Plan.PNG', 'plan.png', 'image/png', 4, 'image', 'dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd', 2, 1, NULL, 1, NULL, 'files/plan', 'thumbs/plan', '2026-03-04 08:00:00'),
 (2, 2, 'receipt.pdf', 'receipt.pdf', 'application/pdf', 3, 'document', 'eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee', NULL, NULL, NULL, NULL, 2, 'files/receipt', NULL, '2026-03-04 08:00:01');
INSERT INTO file_links (id, file_id, token_digest, password_hash, expires_at, max_downloads, downloads, created_at) VALUES (1, 1, 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', '$2b$04$linkhash', '2026-03-11 00:00:00', 5, 2, '2026-03-04 08:01:00');
INSERT INTO chat_rooms (id, slug, description, is_private, created_by, created_at) VALUES (1, 'general', 'Everyone', FALSE, 1, '2026-03-04 09:00:00'), (2, 'secret', NULL, TRUE, 2, '2026-03-04 09:00:01');
INSERT INTO chat_members (room_id, user_id, added_at) VALUES (2, 1, '2026-03-04 09:01:00');
INSERT INTO chat_messages (id, conversation, room_id, sender_id, recipient_id, content, created_at, search_text, edited_at, deleted_at) VALUES
 (1, 'room:1', 1, 1, NULL, 'hello <b>world</b>', '2026-03-04 09:02:00.000002', 'hello <b>world</b>', '2026-03-04 09:04:00', NULL),
 (2, 'dm:1:2', NULL, 2, 1, 'psst', '2026-03-04 09:03:00', 'psst', NULL, NULL),
 (3, 'dm:1:2', NULL, 1, 2, '', '2026-03-04 09:05:00', '', NULL, '2026-03-04 09:06:00');
INSERT INTO chat_conversations (conversation, room_id, last_message_id, messages) VALUES ('room:1', 1, 1, 1);
INSERT INTO chat_conversations (conversation, room_id, last_message_id, messages, low_user_id, high_user_id,
 low_read_up_to, low_read_seq, low_written, high_read_up_to, high_read_seq, high_written) VALUES
 ('dm:1:2', NULL, 3, 2, 1, 2, 3, 2, TRUE, 2, 1, TRUE);
INSERT INTO chat_reads (user_id, conversation, read_up_to, read_seq, has_written) VALUES (1, 'room:1', 1, 1, TRUE);
INSERT INTO chat_reactions (message_id, emoji, user_id, created_at) VALUES
 (1, '🎉', 2, '2026-03-04 09:07:00'), (1, '👍🏽', 1, '2026-03-04 09:07:30');
INSERT INTO chat_attachments (message_id, file_id, position) VALUES (2, 2, 0);
INSERT INTO file_renditions (file_id, codec, kbps, blob_key, size, sha256, last_used_at) VALUES
 (1, 'mp3', 128, 'renditions/plan.mp3', 3, 'cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc', '2026-03-04 08:02:00');
INSERT INTO radio_stations (id, slug, name, description, owner_id, is_public, format, key_digest, now_playing_title, now_playing_artist, now_playing_since, created_at) VALUES
 (1, 'night-owl', 'Night Owl', 'Jazz all night', 1, TRUE, 'mp3', 'abababababababababababababababababababababababababababababababab', 'So What', 'Miles Davis', '2026-03-04 22:00:00', '2026-03-04 21:00:00'),
 (2, 'diary', 'Diary', NULL, 2, FALSE, 'ogg', 'cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd', NULL, NULL, NULL, '2026-03-04 21:00:01');
INSERT INTO radio_playlist (station_id, position, file_id) VALUES (1, 0, 1), (1, 1, 2);
INSERT INTO webhook_subscriptions (id, owner_id, url, events, secret, created_at) VALUES (1, 1, 'https://hooks.example.com/in', '["task.created"]', 'whsec_abc', '2026-03-04 10:00:00');
INSERT INTO webhook_deliveries (id, subscription_id, event_id, event, message_id, body, status, attempts, created_at) VALUES (1, 1, 7, 'task.created', 'msg_1', '{"id":1}', 'delivered', 2, '2026-03-04 10:01:00');
INSERT INTO webhook_attempts (id, delivery_id, subscription_id, attempt, attempted_at, response_status, error, duration_ms, succeeded) VALUES
 (1, 1, 1, 1, '2026-03-04 10:01:01', 500, 'server error', 120, FALSE), (2, 1, 1, 2, '2026-03-04 10:02:01', 200, NULL, 80, TRUE);
INSERT INTO inbound_webhooks (id, provider, delivery_id, event_type, payload, received_at, status, attempts, last_error, result, processed_at) VALUES
 (1, 'github', 'gh-1', 'push', '{"ref":"main"}', '2026-03-04 11:00:00', 'processed', 1, NULL, '{"ok":true}', '2026-03-04 11:00:01');
INSERT INTO idempotency_keys (user_id, key, request_hash, state, response_status, response_body, response_location, created_at, expires_at) VALUES
 (1, 'key-1', 'rh', 'completed', 201, '{"id":3}', '/api/v1/tasks/3', '2026-03-04 12:00:00', '2026-03-05 12:00:00');
INSERT INTO personal_access_tokens (id, user_id, name, scopes, token_digest, prefix, expires_at, last_used_at, created_at, session_id) VALUES
 (1, 1, 'ci', 'tasks:write', 'cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc', 'wbp_abcdefgh', '2027-03-04 00:00:00', '2026-03-04 13:00:00', '2026-03-04 12:30:00', 'fam-1'),
 (2, 2, 'old', 'tasks:read', 'dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd', 'wbp_ijklmnop', '2027-03-04 00:00:00', NULL, '2026-03-04 12:31:00', NULL);
INSERT INTO saved_searches (id, user_id, name, query, created_at) VALUES
 (1, 1, 'Due soon', 'status:pending due:<2026-04-01', '2026-03-04 12:40:00');
INSERT INTO jobs (id, kind, args, priority, state, run_at, attempt, max_attempts, errors, unique_key, lease_owner, lease_until, created_at, attempted_at, finished_at) VALUES
 (1, 'daily_report', '{}', 0, 'completed', '2026-03-04 00:00:00', 1, 3, '[]', NULL, NULL, NULL, '2026-03-04 00:00:00', '2026-03-04 00:00:01', '2026-03-04 00:00:02');
INSERT INTO schedule_runs (id, schedule, slot, job_id, enqueued_at, started_at, finished_at, outcome, duration_ms, items_affected, error, note) VALUES
 (1, 'daily_report', '2026-03-04 00:00:00', 1, '2026-03-04 00:00:00', '2026-03-04 00:00:01', '2026-03-04 00:00:02', 'ok', 1000, 3, NULL, NULL);
INSERT INTO notifications (id, recipient_id, kind, actor_id, subject_type, subject_id, title, body, created_at, read_at) VALUES
 (1, 2, 'assigned', 1, 'task', 3, 'You were assigned “Shelves”', '', '2026-03-04 05:31:00', NULL),
 (2, 2, 'commented', 1, 'task', 3, 'New comment on “Shelves”', 'Looks good', '2026-03-04 05:32:00', '2026-03-04 06:00:00');
INSERT INTO notification_inboxes (user_id, total, unread) VALUES (2, 2, 1);
INSERT INTO notification_preferences (user_id, kind, in_app, email) VALUES (2, 'commented', TRUE, 'off');
INSERT INTO follows (subject_type, subject_id, user_id, following, created_at) VALUES
 ('task', 3, 3, TRUE, '2026-03-04 05:30:00'), ('project', 1, 2, TRUE, '2026-03-04 05:30:00');
INSERT INTO task_reminders (id, task_id, kind, remind_at, before_due, before_secs, fire_at, fired_at, created_by, created_at) VALUES
 (100, 2, 'reminder', '2026-03-16 09:00:00', NULL, NULL, '2026-03-16 09:00:00', '2026-03-16 09:00:01.5', 1, '2026-03-05 10:00:00'),
 (101, 2, 'reminder', NULL, 'PT2H', 7200, '2026-03-16 22:00:00', NULL, 2, '2026-03-05 10:00:00');
INSERT INTO notification_digests (user_id, since_id) VALUES (2, 1);
INSERT INTO outbox (id, event, subject_id, audience, payload, occurred_at) VALUES (1, 'task.created', 3, '[2]', '{"id":3}', '2026-03-04 05:31:00');
UPDATE outbox_relay SET holder = 'instance-a', lease_until = '2026-03-04 05:31:30' WHERE name = 'outbox';
