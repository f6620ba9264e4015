-- Rows the original FastAPI service writes while authgate runs beside it
-- have no username_key / email_key. authgate looks for such rows on every
-- login and registration (accounts: adopt); this partial index keeps that
-- a lookup of nothing once every row has its keys (issue 12).
CREATE INDEX IF NOT EXISTS users_unkeyed_idx ON users (id) WHERE username_key IS NULL OR email_key IS NULL;
