-- disabled_at: when the account was last disabled. A session created before
-- it, or before password_changed_at, is never refreshed again, whatever
-- became of the revocation the change made (issue 16).
ALTER TABLE users ADD COLUMN IF NOT EXISTS disabled_at TIMESTAMP;
