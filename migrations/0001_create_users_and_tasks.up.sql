-- Users are created on their first write; their id is the token's `sub`,
-- an opaque string (UUIDs and Better Auth's 32-character ids alike).
CREATE TABLE users (
    id          text PRIMARY KEY CHECK (char_length(id) BETWEEN 1 AND 255),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- The CHECKs mirror the API's validation rules, so that no path around
-- the API can store what the API would refuse.
CREATE TABLE tasks (
    id           uuid PRIMARY KEY,
    user_id      text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title        text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 255 AND btrim(title) <> ''),
    description  text CHECK (char_length(description) <= 1000),
    completed    boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (updated_at >= created_at)
);

-- Serves every query: one user's tasks, newest first, keyset-paged.
CREATE INDEX tasks_user_id_created_at_id_idx ON tasks (user_id, created_at DESC, id DESC);
