-- successor_sealed: under tokens.refresh_reuse_grace, the refresh token
-- that replaced this one, encrypted with a key derived from this one (which
-- is stored only hashed), so that presenting this token again within the
-- grace interval returns the same successor instead of revoking the
-- session (issue 12). NULL without the setting.
ALTER TABLE refresh_tokens ADD COLUMN successor_sealed VARCHAR;
