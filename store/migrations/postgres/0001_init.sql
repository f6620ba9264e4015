-- The users table keeps the columns of the original FastAPI service, so an
-- existing table is adopted as it is: CREATE ... IF NOT EXISTS, then only
-- additive ALTERs.
CREATE TABLE IF NOT EXISTS users (
    id              SERIAL PRIMARY KEY,
    username        VARCHAR NOT NULL UNIQUE,
    email           VARCHAR NOT NULL UNIQUE,
    hashed_password VARCHAR NOT NULL,
    is_active       BOOLEAN NOT NULL DEFAULT TRUE,
    created_at      TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);
-- username_key: NFKC + case fold of username, filled by authgate (also for
-- rows written by the original service) and unique.
ALTER TABLE users ADD COLUMN IF NOT EXISTS username_key VARCHAR;
ALTER TABLE users ADD COLUMN IF NOT EXISTS email_key VARCHAR;
-- roles: comma-separated, sorted.
ALTER TABLE users ADD COLUMN IF NOT EXISTS roles VARCHAR NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN IF NOT EXISTS password_changed_at TIMESTAMP;
ALTER TABLE users ADD COLUMN IF NOT EXISTS updated_at TIMESTAMP;
CREATE UNIQUE INDEX IF NOT EXISTS users_username_key_idx ON users (username_key);
CREATE UNIQUE INDEX IF NOT EXISTS users_email_key_idx ON users (email_key);

-- A session is one refresh-token family (RFC 9700 §4.14.2).
CREATE TABLE IF NOT EXISTS sessions (
    id          VARCHAR PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id),
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    revoked_at  TIMESTAMP
);
CREATE INDEX IF NOT EXISTS sessions_user_idx ON sessions (user_id);

-- Refresh tokens are stored as the hex SHA-256 of the opaque token.
CREATE TABLE IF NOT EXISTS refresh_tokens (
    token_hash  VARCHAR PRIMARY KEY,
    session_id  VARCHAR NOT NULL REFERENCES sessions (id),
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    used_at     TIMESTAMP
);
CREATE INDEX IF NOT EXISTS refresh_tokens_session_idx ON refresh_tokens (session_id);

-- The embedded denylist (used when no Redis is configured). kind is
-- 'session' (subject = sid) or 'user' (subject = user id, not_before = the
-- cut-off). Times are Unix milliseconds.
CREATE TABLE IF NOT EXISTS revocations (
    id          BIGSERIAL PRIMARY KEY,
    kind        VARCHAR NOT NULL,
    subject     VARCHAR NOT NULL,
    not_before  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS revocations_expires_idx ON revocations (expires_at);

-- ACME certificates shared between instances (tls.acme.cache: database).
CREATE TABLE IF NOT EXISTS acme_cache (
    key         VARCHAR PRIMARY KEY,
    data        BYTEA NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
