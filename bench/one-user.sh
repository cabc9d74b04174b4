# Sourced by bench/ab and bench/instructions: a throwaway PostgreSQL in
# $WORK (stopped, and $WORK removed, on exit), migrated, with one user
# (bench-1) holding 1000 tasks; exports DATABASE_URL, BETTER_AUTH_SECRET,
# RUST_LOG and sets TOKEN, a token for bench-1.
source scripts/postgres.sh
chmod 755 "$WORK"
trap 'kill $(jobs -p) 2>/dev/null || true; pg_stop; rm -rf "$WORK"' EXIT
pg_start "$WORK/pg" "$(free_port)" >/dev/null
target/release/migrate up >/dev/null
"$(pg_bindir)/psql" -q -X -v ON_ERROR_STOP=1 "$DATABASE_URL" <<'SQL'
INSERT INTO users (id) VALUES ('bench-1');
INSERT INTO tasks (id, user_id, title, description, created_at, updated_at)
SELECT ('00000000-0000-7000-8001-000000000' || lpad(i::text, 3, '0'))::uuid, 'bench-1',
       'Task number ' || i, 'Some description of task ' || i,
       now() - (1000 - i) * interval '1 second', now() - (1000 - i) * interval '1 second'
FROM generate_series(0, 999) i;
VACUUM ANALYZE;
SQL
export BETTER_AUTH_SECRET=bench-secret-0123456789abcdef0123456789 RUST_LOG=info
TOKEN=$(target/release/local-api token --sub bench-1 --ttl 7200)
