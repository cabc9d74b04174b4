-- The role the functions connect as: it reads and writes the rows of the
-- API's tables, and nothing else (no DDL, no schema_migrations). Roles are
-- cluster-wide: it is created once, whichever database migrates first
-- (two migrating at once: the loser sees unique_violation), and granted
-- to in each. It has no password here: the owner sets one (docs/operations.md).
DO $$
BEGIN
    CREATE ROLE task_api_app LOGIN NOINHERIT;
    -- A second wall behind the client's own timeout (DB_STATEMENT_TIMEOUT_MS,
    -- 3 s by default): a statement the client lost track of still ends. A
    -- role setting, so it holds behind PgBouncer in transaction mode too.
    ALTER ROLE task_api_app SET statement_timeout = '5s';
    ALTER ROLE task_api_app SET idle_in_transaction_session_timeout = '10s';
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

GRANT USAGE ON SCHEMA public TO task_api_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON users, tasks, idempotency_keys TO task_api_app;
-- The time zones a task's `due` may name: read only.
GRANT SELECT ON time_zones TO task_api_app;
