#!/usr/bin/env bash
# make bench-chat: conversations and message search at scale on PostgreSQL. One reader in 200
# conversations (150 direct, 50 rooms) among 1,000,000 stored messages (200,000 of them in the
# reader's conversations, the rest between other people), half of each conversation read; the
# release binary pinned to one core (CPU 1, beside PostgreSQL's backends) and wrk on the other, for
# BENCH_DURATION (default 10 s) per request and client count: one client (a request's latency)
# and eight (what the core serves); then the searches again with the index BENCH_CHAT_BEHIND (100,000)
# messages behind. Figures (req/s, p50, p95, p99) go to target/bench/chat.md.
# Needs wrk and psql.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${BENCH_PORT:-18191}
DURATION=${BENCH_DURATION:-10s}
MESSAGES=${BENCH_CHAT_MESSAGES:-1000000}
PG_ADMIN_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DB_NAME=wb_bench_chat
DB_URL="${PG_ADMIN_URL%/*}/$DB_NAME"
BASE=http://127.0.0.1:$PORT
OUT=target/bench
BIN=${BENCH_BIN:-target/release/workbench}
PARTNERS=150
ROOMS=50
mkdir -p "$OUT"

for tool in wrk psql; do
    command -v "$tool" >/dev/null || { echo "make bench-chat needs $tool" >&2; exit 1; }
done

[ -n "${BENCH_SKIP_BUILD:-}" ] || cargo build --release -q -p workbench-app --bin workbench
psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB_NAME" -c "CREATE DATABASE $DB_NAME"

pg_master=$(psql -qtA "$PG_ADMIN_URL" -c 'SELECT pg_postmaster_start_time()' >/dev/null && pgrep -o -x postgres || true)
pin_postgres() { [ -n "$pg_master" ] || return 0
    for p in "$pg_master" $(pgrep -P "$pg_master" || true); do taskset -a -cp "$1" "$p" >/dev/null 2>&1 || true; done; }

server_pid=
stop_server() { if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi; }
cleanup() {
    stop_server
    pin_postgres "0-$(($(nproc) - 1))"
    [ -n "${BENCH_KEEP_DB:-}" ] || psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB_NAME" || true
}
trap cleanup EXIT
DATABASE_URL="$DB_URL" PORT=$PORT BCRYPT_COST=4 JWT_SECRET=bench-secret-bench-secret-bench-secret \
    RATE_LIMIT_PER_MINUTE=0 RATE_LIMIT_AUTH_PER_MINUTE=0 LOG_FORMAT=json RUST_LOG=warn \
    taskset -c 1 "$BIN" serve > "$OUT/server-chat.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do curl -sf "$BASE/health" >/dev/null && break; sleep 0.1; done

json_field() { sed -E "s/.*\"$1\":\"?([^\",}]*)\"?.*/\1/"; echo; }
register() {
    curl -sf "$BASE/api/v1/auth/register" -H 'content-type: application/json' \
        -d "{\"username\":\"$1\",\"email\":\"$1@example.com\",\"password\":\"bench-password\"}" >/dev/null
}
register reader
for n in $(seq 1 $PARTNERS); do register "partner$n"; done
token=$(curl -sf "$BASE/api/v1/auth/login" -H 'content-type: application/json' \
    -d '{"email":"reader@example.com","password":"bench-password"}' | json_field access_token)
reader=$(curl -sf "$BASE/api/v1/users/me" -H "authorization: Bearer $token" | json_field id)

# Message n goes to one of the reader's conversations when n % 5 = 0 (150 direct ones with a
# partner, 50 rooms), else to a direct conversation between two partners: so every conversation
# has recent activity, and the reader's share of the store is a fifth. Text from a few words, so
# that a word matches a share of the messages.
echo "== $MESSAGES messages; the reader in $PARTNERS direct conversations and $ROOMS rooms"
psql -q -v ON_ERROR_STOP=1 "$DB_URL" <<SQL
INSERT INTO chat_rooms (slug, description, is_private, created_by, created_at)
SELECT 'room-' || r, NULL, r % 2 = 0, $reader, TIMESTAMP '2026-01-01' FROM generate_series(1, $ROOMS) AS r;
CREATE TEMP TABLE ids AS
SELECT (SELECT array_agg(id ORDER BY id) FROM users WHERE username LIKE 'partner%') AS p,
       (SELECT array_agg(id ORDER BY id) FROM chat_rooms) AS r;
INSERT INTO chat_members (room_id, user_id, added_at)
SELECT c.id, m.id, TIMESTAMP '2026-01-01' FROM chat_rooms c
JOIN (SELECT $reader AS id UNION ALL SELECT unnest(p[1:20]) FROM ids) m ON TRUE;
CREATE TEMP TABLE plan AS
SELECT n,
       CASE WHEN n % 5 = 0 AND (n / 5) % 4 = 0 THEN r[1 + (n / 20) % $ROOMS] END AS room_id,
       CASE WHEN n % 5 = 0 THEN CASE WHEN n % 2 = 0 THEN $reader ELSE p[1 + (n / 5) % $PARTNERS] END
            ELSE p[1 + n % $PARTNERS] END AS sender_id,
       CASE WHEN n % 5 = 0 THEN CASE WHEN n % 2 = 0 THEN p[1 + (n / 5) % $PARTNERS] ELSE $reader END
            ELSE p[1 + (n * 7 + 1) % $PARTNERS] END AS recipient_id,
       (ARRAY['Descale','Clean','Buy','Fix','Paint','Check'])[1 + n % 6] || ' the ' ||
       (ARRAY['kettle','oven','fence','bike','roof','desk','lamp'])[1 + n % 7] || ' before ' ||
       (ARRAY['monday','tuesday','friday','the weekend','noon'])[1 + n % 5] || ' #' || n AS content
FROM generate_series(1, $MESSAGES) AS n, ids;
-- A partner never writes to themselves.
UPDATE plan SET recipient_id = ids.p[1 + (n * 7 + 2) % $PARTNERS] FROM ids
WHERE room_id IS NULL AND sender_id = recipient_id;
INSERT INTO chat_messages (conversation, room_id, sender_id, recipient_id, content, created_at, search_text)
SELECT CASE WHEN room_id IS NOT NULL THEN 'room:' || room_id
            ELSE 'dm:' || LEAST(sender_id, recipient_id) || ':' || GREATEST(sender_id, recipient_id) END,
       room_id, sender_id, CASE WHEN room_id IS NULL THEN recipient_id END, content,
       TIMESTAMP '2026-01-01' + n * INTERVAL '1 second', lower(content)
FROM plan ORDER BY n;
-- The search index as the store's indexer leaves it once it has caught up.
INSERT INTO chat_message_search (message_id, conversation, room_id, sender_id, recipient_id, search_text)
SELECT id, conversation, room_id, sender_id, recipient_id, search_text FROM chat_messages;
UPDATE chat_search_progress SET indexed_through = (SELECT MAX(id) FROM chat_messages);
-- What the store's writer keeps as it writes: each conversation's count and latest message (a
-- direct one with both sides' marks), and the reader's mark in each room; the reader has read half
-- of each of theirs.
INSERT INTO chat_conversations (conversation, room_id, last_message_id, messages, low_user_id, high_user_id)
SELECT conversation, MAX(room_id), MAX(id), COUNT(*),
       MIN(LEAST(sender_id, recipient_id)) FILTER (WHERE recipient_id IS NOT NULL),
       MAX(GREATEST(sender_id, recipient_id)) FILTER (WHERE recipient_id IS NOT NULL)
FROM chat_messages GROUP BY conversation;
UPDATE chat_conversations SET low_read_seq = messages / 2, low_read_up_to = last_message_id - 1 WHERE low_user_id = $reader;
UPDATE chat_conversations SET high_read_seq = messages / 2, high_read_up_to = last_message_id - 1 WHERE high_user_id = $reader;
INSERT INTO chat_reads (user_id, conversation, read_up_to, read_seq)
SELECT $reader, conversation, last_message_id - 1, messages / 2 FROM chat_conversations WHERE room_id IS NOT NULL;
VACUUM ANALYZE chat_messages, chat_message_search, chat_conversations, chat_reads, chat_members, chat_rooms;
SQL
psql -qtA "$DB_URL" -c "SELECT 'messages ' || COUNT(*) FROM chat_messages"

cat > "$OUT/chat-percentiles.lua" <<'LUA'
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status
      + summary.errors.timeout
  io.write(string.format("RESULT %.0f %.2f %.2f %.2f %d\n", summary.requests / (summary.duration / 1e6),
      latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000, errors))
end
LUA

pin_postgres 1
{
    echo "# Conversations and chat search over $MESSAGES messages (PostgreSQL, one core for server and database, wrk -d$DURATION)"
    echo
    echo "| request | total | clients | req/s | p50 ms | p95 ms | p99 ms | errors |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
} > "$OUT/chat.md"
for path in '/chat/conversations' '/chat/conversations?page=10&per_page=20' '/chat/search?q=kettle' \
    '/chat/search?q=paint%20the%20roof' '/chat/search?q=%23123455' "/chat/search?q=oven&with=$(psql -qtA "$DB_URL" \
    -c "SELECT id FROM users WHERE username = 'partner7'")"; do
    url="$BASE/api/v1$path"
    total=$(curl -sf "$url" -H "authorization: Bearer $token" | sed -E 's/.*"total":([0-9]+).*/\1/')
    for clients in 1 8; do
        result=$(taskset -c 0 wrk -t1 -c"$clients" -d"$DURATION" -H "authorization: Bearer $token" \
            -s "$OUT/chat-percentiles.lua" "$url" | grep '^RESULT')
        read -r _ rps p50 p95 p99 errors <<< "$result"
        echo "   $path ($clients): total $total, $rps req/s, p50 $p50 ms, p95 $p95 ms, p99 $p99 ms, $errors errors"
        echo "| \`$path\` | $total | $clients | $rps | $p50 | $p95 | $p99 | $errors |" >> "$OUT/chat.md"
    done
done

# Searches while the index is BENCH_CHAT_BEHIND (default 100,000, the most it waits for) messages
# behind: those are read from chat_messages by id. The indexer is held back meanwhile by a lock on
# its progress row's table (a search only reads that row).
behind=${BENCH_CHAT_BEHIND:-100000}
if [ "$behind" -gt 0 ]; then
    psql -q "$DB_URL" -c "DELETE FROM chat_message_search WHERE message_id > (SELECT MAX(id) FROM chat_messages) - $behind" \
        -c "UPDATE chat_search_progress SET indexed_through = (SELECT MAX(id) FROM chat_messages) - $behind" \
        -c "VACUUM ANALYZE chat_message_search"
    PGAPPNAME=bench-hold-indexer psql -q "$DB_URL" \
        -c "BEGIN; LOCK TABLE chat_search_progress IN EXCLUSIVE MODE; SELECT pg_sleep(3600);" >/dev/null 2>&1 &
    sleep 1
    for path in '/chat/search?q=kettle' '/chat/search?q=paint%20the%20roof' '/chat/search?q=%23123455'; do
        url="$BASE/api/v1$path"
        total=$(curl -sf "$url" -H "authorization: Bearer $token" | sed -E 's/.*"total":([0-9]+).*/\1/')
        result=$(taskset -c 0 wrk -t1 -c1 -d"$DURATION" -H "authorization: Bearer $token" \
            -s "$OUT/chat-percentiles.lua" "$url" | grep '^RESULT')
        read -r _ rps p50 p95 p99 errors <<< "$result"
        echo "   $path, $behind behind (1): total $total, $rps req/s, p50 $p50 ms, p95 $p95 ms, p99 $p99 ms"
        echo "| \`$path\`, index $behind behind | $total | 1 | $rps | $p50 | $p95 | $p99 | $errors |" >> "$OUT/chat.md"
    done
    psql -qtA "$DB_URL" -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'bench-hold-indexer'" >/dev/null
fi
echo "figures in $OUT/chat.md"
