package accounts

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/authgate/authgate/store"
)

// Adoption of rows the original FastAPI service writes. Its table has no
// username_key / email_key columns (migration 0001 adds them empty), and
// while the two run side by side on one database (issue 12) it keeps
// inserting rows without them. adopt gives such rows their normalised keys
// — computed in Go, because NFKC and case folding cannot be done in SQL on
// both databases — and runs at start, before every login, registration and
// lookup by username: a user registered on the original logs in through
// authgate at once, with no restart. Once every row has its keys it costs
// one lookup of nothing (the partial index users_unkeyed_idx).
//
// The original compared usernames and emails byte for byte, so its table
// can hold "erin" and "ERIN", or "Bob@x.org" and "bob@x.org": one account
// each for authgate. Such rows keep no keys; they are a Collision, which
// does not stop the gateway: the accounts involved are refused at login,
// with a log line naming the rows, until an operator renames or merges
// them (`authgate user conflicts` lists them). Everyone else works.

// Collision is a set of users rows that are one account after
// normalisation.
type Collision struct {
	Field string // "username" or "email"
	Key   string // the normalised value they share
	Rows  []CollidingRow
}

// CollidingRow is one row of a Collision, with the keys it has or would
// have.
type CollidingRow struct {
	ID              int64
	Username, Email string
	ukey, ekey      string
}

// Error describes the collision:
// `username "erin": user 10 ("erin"), user 12 ("ERIN")`.
func (c Collision) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %q:", c.Field, c.Key)
	for i, r := range c.Rows {
		if i > 0 {
			b.WriteByte(',')
		}
		v := r.Username
		if c.Field == "email" {
			v = r.Email
		}
		fmt.Fprintf(&b, " user %d (%q)", r.ID, v)
	}
	return b.String()
}

// involves reports whether row id, or a row whose username normalises to
// ukey, is part of c.
func (c Collision) involves(id int64, ukey string) bool {
	for _, r := range c.Rows {
		if r.ID == id || r.ukey == ukey {
			return true
		}
	}
	return false
}

// legacyRow is the part of a users row adoption reads.
type legacyRow struct {
	ID          int64          `db:"id"`
	Username    sql.NullString `db:"username"`
	Email       sql.NullString `db:"email"`
	UsernameKey sql.NullString `db:"username_key"`
	EmailKey    sql.NullString `db:"email_key"`
}

// keyed is r with the keys it has, or those it would have.
func (r legacyRow) keyed() CollidingRow {
	c := CollidingRow{ID: r.ID, Username: r.Username.String, Email: r.Email.String,
		ukey: r.UsernameKey.String, ekey: r.EmailKey.String}
	if !r.UsernameKey.Valid && r.Username.Valid {
		c.ukey = usernameKey(r.Username.String)
	}
	if !r.EmailKey.Valid && r.Email.Valid {
		c.ekey = emailKey(r.Email.String)
	}
	return c
}

// unkeyedWhere selects the rows adopt works on. Its first term is the
// predicate of the partial index users_unkeyed_idx (migration 0030), so
// that both databases answer from the index, not a scan of every user.
const unkeyedWhere = `(username_key IS NULL OR email_key IS NULL) AND
	((username_key IS NULL AND username IS NOT NULL) OR (email_key IS NULL AND email IS NOT NULL))`

// adopt gives every row without keys its keys, unless another row has (or
// would have) one of them, and returns those collisions. No row involved
// in a collision is changed.
func (u *Users) adopt(ctx context.Context) ([]Collision, error) {
	var pending int
	err := u.db.GetContext(ctx, &pending, `SELECT COUNT(*) FROM users WHERE `+unkeyedWhere)
	if err != nil {
		return nil, u.err(ctx, "users: adopt rows", err)
	}
	if pending == 0 {
		return nil, nil
	}
	tx, err := u.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, u.err(ctx, "users: adopt rows", err)
	}
	defer tx.Rollback()
	if u.db.Dialect == store.Postgres {
		// Two instances adopting at once do it one after the other.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, store.BackfillLockID); err != nil {
			return nil, u.err(ctx, "users: adopt rows", err)
		}
	}
	var unkeyed []legacyRow
	if err := tx.SelectContext(ctx, &unkeyed, `SELECT id, username, email, username_key, email_key FROM users
		WHERE `+unkeyedWhere+` ORDER BY id`); err != nil {
		return nil, u.err(ctx, "users: adopt rows", err)
	}
	// Every row sharing a key with an unkeyed row: the unkeyed rows
	// themselves and the keyed rows holding one of their keys.
	byUsername := map[string][]CollidingRow{}
	byEmail := map[string][]CollidingRow{}
	seen := map[int64]bool{}
	add := func(r CollidingRow) {
		if seen[r.ID] {
			return
		}
		seen[r.ID] = true
		if r.ukey != "" {
			byUsername[r.ukey] = append(byUsername[r.ukey], r)
		}
		if r.ekey != "" {
			byEmail[r.ekey] = append(byEmail[r.ekey], r)
		}
	}
	for _, r := range unkeyed {
		add(r.keyed())
	}
	for _, r := range unkeyed {
		k := r.keyed()
		var holders []legacyRow
		if err := tx.SelectContext(ctx, &holders, u.db.Rebind(`SELECT id, username, email, username_key, email_key FROM users
			WHERE username_key = ? OR email_key = ?`), k.ukey, k.ekey); err != nil {
			return nil, u.err(ctx, "users: adopt rows", err)
		}
		for _, h := range holders {
			add(h.keyed())
		}
	}
	var collisions []Collision
	colliding := map[int64]bool{}
	collect := func(field string, groups map[string][]CollidingRow) {
		for _, key := range slices.Sorted(maps.Keys(groups)) {
			rows := groups[key]
			if len(rows) < 2 {
				continue
			}
			slices.SortFunc(rows, func(a, b CollidingRow) int { return int(a.ID - b.ID) })
			collisions = append(collisions, Collision{Field: field, Key: key, Rows: rows})
			for _, r := range rows {
				colliding[r.ID] = true
			}
		}
	}
	collect("username", byUsername)
	collect("email", byEmail)
	for _, r := range unkeyed {
		if colliding[r.ID] {
			continue
		}
		k := r.keyed()
		if _, err := tx.ExecContext(ctx, u.db.Rebind(`UPDATE users SET username_key = ?, email_key = ? WHERE id = ?`),
			nullable(k.ukey), nullable(k.ekey), r.ID); err != nil {
			return nil, u.err(ctx, "users: adopt rows", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, u.err(ctx, "users: adopt rows", err)
	}
	return collisions, nil
}

func nullable(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// Collisions adopts what it can and lists the rows that are one account
// after normalisation (`authgate user conflicts`).
func (u *Users) Collisions(ctx context.Context) ([]Collision, error) { return u.adopt(ctx) }
