-- The OAuth2/OIDC provider (issue 14). A session opened for an OAuth2
-- client names it, with the scopes granted and when the user last entered
-- credentials (OIDC auth_time, for ID tokens on refresh); authgate's own
-- sign-ins leave client_id empty.
ALTER TABLE sessions ADD COLUMN client_id TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN scopes TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN auth_time TIMESTAMP;

-- Authorization codes, by the hex SHA-256 of the code (the code itself is
-- never stored), shared by every instance: the browser's redirect may reach
-- one and the client's token request another. redeemed is set once, by a
-- conditional UPDATE; reused records a second redemption, so that the
-- session the first one opened (session_id) is revoked (RFC 6749 §4.1.2).
CREATE TABLE IF NOT EXISTS oauth2_codes (
    code_hash    TEXT PRIMARY KEY,
    client_id    TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    challenge    TEXT NOT NULL,
    nonce        TEXT NOT NULL,
    scopes       TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    auth_time    TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL,
    redeemed     BOOLEAN NOT NULL DEFAULT FALSE,
    reused       BOOLEAN NOT NULL DEFAULT FALSE,
    session_id   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS oauth2_codes_expires_idx ON oauth2_codes (expires_at);

-- The scopes a user has let a third-party client have (space-separated),
-- so that the consent screen is shown once.
CREATE TABLE IF NOT EXISTS oauth2_consents (
    user_id    TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- Clients registered with `authgate client add` (besides those in
-- config.yaml): the client's settings as JSON, its secret only as a bcrypt
-- hash.
CREATE TABLE IF NOT EXISTS oauth2_clients (
    id         TEXT PRIMARY KEY,
    settings   TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
