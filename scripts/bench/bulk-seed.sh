#!/usr/bin/env bash
# Bulk data for the search benchmark, written straight into the database (the API would take
# minutes): 10,000 users, 100,000 tasks and 10,000 products, with words from a small vocabulary
# so that a search matches a realistic share of rows. The folded `search_text` columns are
# written lower-cased, as the application writes them (the vocabulary is ASCII).
#
# usage: bulk-seed.sh postgres <database url> | bulk-seed.sh sqlite <database file>
set -euo pipefail
engine=$1 target=$2

read -r -d '' WORDS <<'SQL' || true
words(i, w) AS (VALUES (0,'kettle'),(1,'invoice'),(2,'garden'),(3,'laptop'),(4,'report'),(5,'insurance'),
    (6,'printer'),(7,'meeting'),(8,'bicycle'),(9,'warranty'),(10,'roof'),(11,'budget'),(12,'camera'),
    (13,'holiday'),(14,'heater'),(15,'dentist'),(16,'fridge'),(17,'tax'),(18,'router'),(19,'boiler'))
SQL

case $engine in
postgres)
    psql -q -v ON_ERROR_STOP=1 "$target" <<SQL
BEGIN;
INSERT INTO users (username, username_key, email, role, status, first_name, last_name, search_text,
                   created_at, updated_at)
SELECT 'bulk' || n, 'bulk' || n, 'bulk' || n || '@example.com', 'user', 'active', 'Ann', 'Smith' || (n % 97),
       'bulk' || n || ' ann smith' || (n % 97), (now() AT TIME ZONE 'UTC'), (now() AT TIME ZONE 'UTC')
FROM generate_series(1, 10000) AS n;

WITH $WORDS, owners AS (SELECT min(id) AS first FROM users WHERE username LIKE 'bulk%')
INSERT INTO tasks (title, description, status, priority, priority_rank, owner_id, version, search_text,
                   created_at, updated_at, tags)
SELECT 'Task ' || n || ' about the ' || w, 'Bulk task for the search benchmark',
       (ARRAY['pending', 'in_progress', 'completed'])[1 + n % 3], 'medium', 2, owners.first + n % 10000, 1,
       'task ' || n || ' about the ' || w || chr(10) || 'bulk task for the search benchmark',
       (now() AT TIME ZONE 'UTC') - (n || ' seconds')::interval, (now() AT TIME ZONE 'UTC') - (n || ' seconds')::interval, '[]'
FROM generate_series(1, 100000) AS n JOIN words ON words.i = n % 20 CROSS JOIN owners;

INSERT INTO categories (name, name_key, slug, version, created_at, updated_at)
VALUES ('Bulk', 'bulk', 'bulk', 1, (now() AT TIME ZONE 'UTC'), (now() AT TIME ZONE 'UTC'));
WITH $WORDS
INSERT INTO products (name, name_key, category_id, brand, brand_key, model, warranty_months, status, search_text,
                      version, created_at, updated_at)
SELECT 'The ' || w || ' ' || n, 'the ' || w || ' ' || n, (SELECT id FROM categories WHERE slug = 'bulk'),
       'Brand' || (n % 100), 'brand' || (n % 100), 'M-' || n, 24, 'active',
       'the ' || w || ' ' || n || chr(10) || 'brand' || (n % 100) || chr(10) || 'm-' || n,
       1, (now() AT TIME ZONE 'UTC'), (now() AT TIME ZONE 'UTC')
FROM generate_series(1, 10000) AS n JOIN words ON words.i = n % 20;
COMMIT;
ANALYZE;
SQL
    ;;
sqlite)
    python3 - "$target" "$WORDS" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=30)
words = sys.argv[2]
series = "series(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM series WHERE n < {})"
now = "strftime('%Y-%m-%d %H:%M:%f', 'now')"
with db:
    db.execute(f"""WITH RECURSIVE {series.format(10000)}
        INSERT INTO users (username, username_key, email, role, status, first_name, last_name, search_text,
                           created_at, updated_at)
        SELECT 'bulk' || n, 'bulk' || n, 'bulk' || n || '@example.com', 'user', 'active', 'Ann', 'Smith' || (n % 97),
               'bulk' || n || ' ann smith' || (n % 97), {now}, {now} FROM series""")
    db.execute(f"""WITH RECURSIVE {series.format(100000)}, {words},
        owners AS (SELECT min(id) AS first FROM users WHERE username LIKE 'bulk%')
        INSERT INTO tasks (title, description, status, priority, priority_rank, owner_id, version, search_text,
                           created_at, updated_at, tags)
        SELECT 'Task ' || n || ' about the ' || w, 'Bulk task for the search benchmark',
               CASE n % 3 WHEN 0 THEN 'pending' WHEN 1 THEN 'in_progress' ELSE 'completed' END, 'medium', 2,
               owners.first + n % 10000, 1,
               'task ' || n || ' about the ' || w || char(10) || 'bulk task for the search benchmark',
               strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || n || ' seconds'),
               strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || n || ' seconds'), '[]'
        FROM series JOIN words ON words.i = n % 20 CROSS JOIN owners""")
    db.execute(f"""INSERT INTO categories (name, name_key, slug, version, created_at, updated_at)
        VALUES ('Bulk', 'bulk', 'bulk', 1, {now}, {now})""")
    db.execute(f"""WITH RECURSIVE {series.format(10000)}, {words}
        INSERT INTO products (name, name_key, category_id, brand, brand_key, model, warranty_months, status,
                              search_text, version, created_at, updated_at)
        SELECT 'The ' || w || ' ' || n, 'the ' || w || ' ' || n, (SELECT id FROM categories WHERE slug = 'bulk'),
               'Brand' || (n % 100), 'brand' || (n % 100), 'M-' || n, 24, 'active',
               'the ' || w || ' ' || n || char(10) || 'brand' || (n % 100) || char(10) || 'm-' || n,
               1, {now}, {now}
        FROM series JOIN words ON words.i = n % 20""")
db.execute("ANALYZE")
db.close()
PY
    ;;
*) echo "usage: $0 postgres|sqlite <target>" >&2; exit 2 ;;
esac
