// Package store opens authgate's database — SQLite (modernc, no cgo) or
// PostgreSQL (lib/pq behind a connector whose calls a context can always
// interrupt) — and applies the embedded migrations (migrations/, one
// directory per dialect; they only ever add). It owns the database section
// of config.yaml (Config) and the classification of database errors into
// problem.ErrStoreUnavailable and constraint violations, so that nothing
// above it needs to know a driver.
//
// It imports internal/conf, internal/problem, sqlx and the drivers, and
// must never import a package of authgate's above it (tokens, denylist,
// accounts, authn, upstream, gateway): the account store, the denylist and
// the ACME certificate cache are built on it, not the other way round.
package store
