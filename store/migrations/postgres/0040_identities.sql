-- Identities linked from upstream identity providers (issue 13): an
-- (issuer, subject) pair maps to exactly one user. provider is the
-- configured name it was linked through (renaming a provider keeps the
-- link: lookups go by issuer and subject).
CREATE TABLE IF NOT EXISTS identities (
    id             SERIAL PRIMARY KEY,
    user_id        INTEGER NOT NULL REFERENCES users (id),
    provider       VARCHAR NOT NULL,
    issuer         VARCHAR NOT NULL,
    subject        VARCHAR NOT NULL,
    email          VARCHAR NOT NULL DEFAULT '',
    created_at     TIMESTAMP NOT NULL,
    last_login_at  TIMESTAMP
);
CREATE UNIQUE INDEX IF NOT EXISTS identities_issuer_subject_idx ON identities (issuer, subject);
CREATE INDEX IF NOT EXISTS identities_user_idx ON identities (user_id);

-- The provider grant behind one authgate session that began at a
-- provider: its refresh token (and, for RP-initiated logout, its ID
-- token), each sealed with AES-GCM under a key derived from the signing
-- key and bound to the row, never in clear. Deleted with the session.
CREATE TABLE IF NOT EXISTS identity_sessions (
    session_id     VARCHAR PRIMARY KEY REFERENCES sessions (id),
    identity_id    INTEGER NOT NULL REFERENCES identities (id),
    refresh_token  VARCHAR NOT NULL DEFAULT '',
    id_token       VARCHAR NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS identity_sessions_identity_idx ON identity_sessions (identity_id);
