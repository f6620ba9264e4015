package accounts

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// rotateLiveQuery (built once, by NewSessions) is the work of a successful
// refresh on PostgreSQL in one prepared statement instead of four (SELECT,
// UPDATE, INSERT, then the user; lib/pq spends two round trips on every
// unprepared statement with parameters): mark the presented token used if
// it is live — unused, unexpired, of an unrevoked and unexpired session,
// of session $4 unless $4 is empty, and of a session of client $5 —
// insert its successor, and read the session's user, whose current roles
// and status the new access token needs. PostgreSQL runs a data-modifying
// WITH exactly once whether or not the outer query reads it. The statement
// runs inside Rotate's transaction all the same, so that a Rotate
// cancelled before it commits changes nothing. Two rotations of one token
// at once: the second UPDATE waits for the first to commit, re-checks
// used_at IS NULL on the new row version and matches nothing (READ
// COMMITTED), so exactly one wins, as in the SELECT-then-UPDATE path.
func rotateLiveQuery() string {
	return `WITH used AS (
	UPDATE refresh_tokens t SET used_at = $1::timestamp
	FROM sessions s
	WHERE t.token_hash = $2 AND t.used_at IS NULL AND s.id = t.session_id
		AND s.revoked_at IS NULL AND t.expires_at > $1::timestamp AND s.expires_at > $1::timestamp
		AND ($4::varchar = '' OR t.session_id = $4::varchar) AND s.client_id = $5::varchar
	RETURNING t.session_id, s.user_id, s.created_at, s.expires_at
), successor AS (
	INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at)
	SELECT $3::varchar, session_id, $1::timestamp, expires_at FROM used
)
SELECT used.session_id, used.created_at AS session_created, used.expires_at AS session_expires, ` + userColumnsOf("u") + `
FROM used JOIN users u ON u.id = used.user_id`
}

// rotateLive rotates a live token in one statement of tx (PostgreSQL
// only). ok is false when the token was not live — unknown, expired,
// revoked, already used, or not of session sid — and nothing was changed:
// the rest of Rotate's transaction then tells which, and revokes the
// session of a reused token.
func (s *Sessions) rotateLive(ctx context.Context, tx *sqlx.Tx, now time.Time, oldHash, newToken, newHash, sid, clientID string) (rot Rotation, ok bool, err error) {
	var row struct {
		SessionID string    `db:"session_id"`
		Created   time.Time `db:"session_created"`
		Expires   time.Time `db:"session_expires"`
		userRow
	}
	stmt, err := s.rotateLiveStmt(ctx)
	if err != nil {
		return Rotation{}, false, s.err(ctx, "rotate refresh token", err)
	}
	err = tx.StmtxContext(ctx, stmt).QueryRowxContext(ctx, now, oldHash, newHash, sid, clientID).StructScan(&row)
	if errors.Is(err, sql.ErrNoRows) {
		return Rotation{}, false, nil
	}
	if err != nil {
		return Rotation{}, false, s.err(ctx, "rotate refresh token", err)
	}
	return Rotation{SessionID: row.SessionID, UserID: row.ID, RefreshToken: newToken,
		Created: row.Created.UTC(), Expires: row.Expires.UTC(), User: row.user()}, true, nil
}

// userColumnsOf is userColumns qualified with a table alias.
func userColumnsOf(alias string) string {
	cols := strings.Split(userColumns, ", ")
	for i, c := range cols {
		cols[i] = alias + "." + c
	}
	return strings.Join(cols, ", ")
}

// rotateLiveStmt returns the rotation statement prepared. database/sql
// prepares it once on each pooled connection it runs on (Stmt re-prepares
// on a new connection by itself), and then a rotation is one round trip
// (Bind, Execute) where an unprepared statement with parameters costs
// lib/pq two (Parse and Describe first) and PostgreSQL a parse and a plan
// every time: half of PostgreSQL's CPU time per refresh. A prepare that
// failed is tried again by the next rotation.
//
// Named prepared statements live in a server session: behind PgBouncer in
// transaction mode this needs PgBouncer 1.21 or later with
// max_prepared_statements set (or session mode), as the migrations'
// advisory lock already needs a session.
func (s *Sessions) rotateLiveStmt(ctx context.Context) (*sqlx.Stmt, error) {
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	if s.rotateLive_ != nil {
		return s.rotateLive_, nil
	}
	stmt, err := s.db.PreparexContext(ctx, s.rotateLiveSQL)
	if err != nil {
		return nil, err
	}
	s.rotateLive_ = stmt
	return stmt, nil
}
