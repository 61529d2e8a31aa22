#!/bin/sh
# 1,000,000 tasks (N) through the CLI: SQLite -> PostgreSQL -> SQLite, each step under
# /usr/bin/time -v (peak RSS of the whole process). Needs a release build, python3, psql and
# PostgreSQL at 127.0.0.1:5432 as postgres; the figures are in docs/export-import.md.
set -e
W=${W:-target/release/workbench}
N=${N:-1000000}
D=${D:-$PWD/target/archive-measure}
rm -rf $D && mkdir -p $D
export DATA_DIR=$D/data STORAGE_URL=file://$D/blobs
DATABASE_URL=$D/src.db $W migrate >/dev/null 2>&1
python3 - "$D/src.db" "$N" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1]); n = int(sys.argv[2])
c.execute("PRAGMA foreign_keys = ON")
c.execute("""INSERT INTO users (id, username, username_key, email, password_hash, role, status, totp_enabled, search_text,
  created_at, updated_at, token_generation)
  SELECT i, 'user' || i, 'user' || i, 'user' || i || '@example.com', '$2b$12$hash', 'user', 'active', FALSE,
  'user' || i, '2026-03-04 05:06:07.001234', '2026-03-04 05:06:07.001234', 0
  FROM (SELECT 1 AS i UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4)""")
c.execute(f"""WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n})
  INSERT INTO tasks (id, title, description, status, priority, priority_rank, owner_id, assignee_id, version,
  search_text, created_at, updated_at, tags)
  SELECT i, 'Task number ' || i, CASE WHEN i % 3 = 0 THEN 'Something to do, at length, ' || i END,
  CASE WHEN i % 5 = 0 THEN 'completed' ELSE 'pending' END, 'medium', 2, 1 + i % 4,
  CASE WHEN i % 7 = 0 THEN 1 + (i + 1) % 4 END, 1 + i % 9, 'task number ' || i,
  '2026-03-04 05:06:07.001234', '2026-03-05 05:06:07.000001',
  CASE WHEN i % 4 = 0 THEN '["work","q' || (i % 13) || '"]' ELSE '[]' END FROM n""")
c.commit()
PY
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS wb_measure" -c "CREATE DATABASE wb_measure"
PG=postgres://postgres@127.0.0.1:5432/wb_measure
step() { label=$1; shift; /usr/bin/time -v "$@" 2> $D/step.err >/dev/null || { cat $D/step.err; exit 1; }
  echo "$label: $(grep -E '^(exported|imported)' $D/step.err); peak RSS $(awk '/Maximum resident/ {printf "%.0f MiB", $6/1024}' $D/step.err), wall $(awk -F': ' '/Elapsed/ {print $2}' $D/step.err)"; }
step "export SQLite" env DATABASE_URL=$D/src.db $W export --output $D/a.wba
step "import PostgreSQL" env DATABASE_URL=$PG $W import --input $D/a.wba
step "export PostgreSQL" env DATABASE_URL=$PG $W export --output $D/b.wba
step "import SQLite" env DATABASE_URL=$D/back.db $W import --input $D/b.wba
ls -la $D/*.wba
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS wb_measure"
