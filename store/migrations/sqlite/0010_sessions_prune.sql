-- Sessions.Prune deletes sessions that expired or were revoked more than a
-- grace period ago; these indexes keep that from scanning every session.
CREATE INDEX IF NOT EXISTS sessions_expires_idx ON sessions (expires_at);
CREATE INDEX IF NOT EXISTS sessions_revoked_idx ON sessions (revoked_at);
