package accounts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/authgate/authgate/store"
)

// backfillKeys gives rows written by the original FastAPI service (which
// has no username_key / email_key columns; migration 0001 adds them empty)
// their normalised keys. The keys are computed in Go because NFKC and case
// folding cannot be done in SQL on both databases. It runs in NewUsers, in
// one transaction, and does nothing once every row has its keys.
//
// The original service compared usernames and emails byte for byte, so
// its table can hold "alice" and "Alice", or "Bob@x.org" and "bob@x.org":
// one account each for authgate. That is refused with an error naming the
// rows, for an operator to resolve (rename or merge) before starting; no
// row is changed then. Rows the original service writes later are not
// seen until the next start: stop it before switching over.
func (u *Users) backfillKeys(ctx context.Context) error {
	var pending int
	err := u.db.GetContext(ctx, &pending, `SELECT COUNT(*) FROM users
		WHERE (username_key IS NULL AND username IS NOT NULL) OR (email_key IS NULL AND email IS NOT NULL)`)
	if err != nil {
		return u.err(ctx, "users: backfill keys", err)
	}
	if pending == 0 {
		return nil
	}
	tx, err := u.db.BeginTxx(ctx, nil)
	if err != nil {
		return u.err(ctx, "users: backfill keys", err)
	}
	defer tx.Rollback()
	if u.db.Dialect == store.Postgres {
		// Two instances starting at once backfill one after the other
		// (the migration lock is already released at this point).
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, store.BackfillLockID); err != nil {
			return u.err(ctx, "users: backfill keys", err)
		}
	}
	var rows []legacyRow
	if err := tx.SelectContext(ctx, &rows, `SELECT id, username, email, username_key, email_key FROM users ORDER BY id`); err != nil {
		return u.err(ctx, "users: backfill keys", err)
	}
	byUsername := map[string][]legacyRow{}
	byEmail := map[string][]legacyRow{}
	type update struct {
		id         int64
		ukey, ekey sql.NullString
	}
	var updates []update
	for _, r := range rows {
		up := update{id: r.ID, ukey: r.UsernameKey, ekey: r.EmailKey}
		if !up.ukey.Valid && r.Username.Valid {
			up.ukey = sql.NullString{String: usernameKey(r.Username.String), Valid: true}
		}
		if !up.ekey.Valid && r.Email.Valid {
			up.ekey = sql.NullString{String: emailKey(r.Email.String), Valid: true}
		}
		if up.ukey.Valid {
			byUsername[up.ukey.String] = append(byUsername[up.ukey.String], r)
		}
		if up.ekey.Valid {
			byEmail[up.ekey.String] = append(byEmail[up.ekey.String], r)
		}
		if up.ukey != r.UsernameKey || up.ekey != r.EmailKey {
			updates = append(updates, up)
		}
	}
	var collisions []error
	for _, key := range slices.Sorted(maps.Keys(byUsername)) {
		if rs := byUsername[key]; len(rs) > 1 {
			collisions = append(collisions, keyCollision("username", key, rs, func(r legacyRow) string { return r.Username.String }))
		}
	}
	for _, key := range slices.Sorted(maps.Keys(byEmail)) {
		if rs := byEmail[key]; len(rs) > 1 {
			collisions = append(collisions, keyCollision("email", key, rs, func(r legacyRow) string { return r.Email.String }))
		}
	}
	if len(collisions) > 0 {
		return fmt.Errorf("users: existing accounts are the same after normalisation; rename or merge them, then start again:\n%w", errors.Join(collisions...))
	}
	for _, up := range updates {
		if _, err := tx.ExecContext(ctx, u.db.Rebind(`UPDATE users SET username_key = ?, email_key = ? WHERE id = ?`),
			up.ukey, up.ekey, up.id); err != nil {
			return u.err(ctx, "users: backfill keys", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return u.err(ctx, "users: backfill keys", err)
	}
	return nil
}

// legacyRow is the part of a users row the backfill reads.
type legacyRow struct {
	ID          int64          `db:"id"`
	Username    sql.NullString `db:"username"`
	Email       sql.NullString `db:"email"`
	UsernameKey sql.NullString `db:"username_key"`
	EmailKey    sql.NullString `db:"email_key"`
}

// keyCollision describes rows sharing one normalised key:
// `username "alice": user 3 ("alice"), user 7 ("Alice")`.
func keyCollision(field, key string, rows []legacyRow, value func(legacyRow) string) error {
	msg := fmt.Sprintf("%s %q:", field, key)
	for i, r := range rows {
		if i > 0 {
			msg += ","
		}
		msg += fmt.Sprintf(" user %d (%q)", r.ID, value(r))
	}
	return errors.New(msg)
}
