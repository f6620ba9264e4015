package accounts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/authgate/authgate/internal/problem"
	"github.com/authgate/authgate/store"
	"github.com/jmoiron/sqlx"
)

// Sessions and refresh tokens.
//
// A session is one refresh-token family (RFC 9700 §4.14.2): created at
// login, it holds a chain of opaque refresh tokens of which exactly one is
// live (unused); each refresh uses the live one and adds its successor.
// Presenting a used token again means two parties hold the family — the
// client and a thief, whichever came second — so the whole session is
// revoked and problem.ErrRefreshReused (*ReuseError) tells the caller which one, to
// denylist its access tokens.
//
// Expiry is absolute: a session ends refresh_ttl after login however often
// it is refreshed, and every token of the family expires with it. A sliding
// window would let a stolen token, kept in use, live for ever; with a fixed
// one a user logs in again once per refresh_ttl.
//
// Tokens are stored only as the hex SHA-256 of the whole token string. A
// lookup by that hash goes through a database index, not a byte compare
// an attacker could time, and needs no salt: the token has 256 random
// bits.
const (
	// RefreshTokenPrefix starts every refresh token, so that one is never
	// mistaken for an access token (a JWT) or the other way round, and so
	// that secret scanners can recognise a leaked one.
	RefreshTokenPrefix = "agr_"
	refreshTokenBytes  = 32
	sessionIDBytes     = 16 // 128 bits
	// pruneGrace is how long Prune keeps sessions after they expired or
	// were revoked, so that a late refresh is answered "expired/revoked"
	// consistently and an operator can still look at what happened.
	pruneGrace = 24 * time.Hour
)

// ReuseError is returned by Rotate when the token presented had already
// been used: the session it belongs to is now revoked. errors.Is(err,
// problem.ErrRefreshReused) holds.
type ReuseError struct {
	SessionID string
	UserID    int64
}

func (e *ReuseError) Error() string {
	return fmt.Sprintf("%v (session %s)", problem.ErrRefreshReused, e.SessionID)
}

// Is makes errors.Is(err, problem.ErrRefreshReused) true.
func (e *ReuseError) Is(target error) bool { return target == problem.ErrRefreshReused }

// Rotation is the result of a successful refresh.
type Rotation struct {
	SessionID    string
	UserID       int64
	RefreshToken string    // the new live token; the one presented is now used
	Created      time.Time // when the session was created (the login)
	Expires      time.Time // the session's (fixed) end
	// User is the session's user as read in the rotation's own statement
	// (PostgreSQL), saving the caller a round trip; nil when the store did
	// not read it along.
	User *User
}

// Sessions stores sessions and their refresh tokens. Safe for concurrent
// use; every operation is one transaction.
type Sessions struct {
	db   *store.DB
	ttl  time.Duration
	now  func() time.Time // the clock; tests set it
	rand io.Reader        // token and id randomness; tests set it
	// grace is tokens.refresh_reuse_grace (sessions_grace.go); 0: none.
	grace time.Duration

	// rotateLiveSQL is rotateLiveQuery(), for PostgreSQL, and rotateLive
	// its prepared form once a rotation has prepared it.
	rotateLiveSQL string
	stmtMu        sync.Mutex
	rotateLive_   *sqlx.Stmt
}

// NewSessions builds the session store on db with sessions lasting
// refreshTTL from login.
func NewSessions(db *store.DB, refreshTTL time.Duration) (*Sessions, error) {
	if db == nil {
		return nil, errors.New("sessions: no database")
	}
	if refreshTTL <= 0 {
		return nil, fmt.Errorf("tokens.refresh_ttl: %s must be positive", refreshTTL)
	}
	return &Sessions{db: db, ttl: refreshTTL, now: time.Now, rand: rand.Reader,
		rotateLiveSQL: rotateLiveQuery()}, nil
}

func (s *Sessions) err(ctx context.Context, op string, err error) error {
	return s.db.Err(ctx, op, err)
}

// randomString returns n random bytes, base64url without padding.
func (s *Sessions) randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		return "", fmt.Errorf("sessions: randomness: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func (s *Sessions) newToken() (token, hash string, err error) {
	r, err := s.randomString(refreshTokenBytes)
	if err != nil {
		return "", "", err
	}
	token = RefreshTokenPrefix + r
	return token, refreshTokenHash(token), nil
}

// refreshTokenHash is the stored form of a refresh token.
func refreshTokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Create starts a session for userID (at login) and returns its id, its
// first refresh token and when it ends. problem.ErrNotFound if there is no such
// user.
//
// Inside its transaction Create reads the user's row and holds it until
// commit — FOR SHARE on PostgreSQL; on SQLite the immediate transaction
// holds the database's write lock from BEGIN — so that no change to the
// account (password, status, roles) commits between that read and the
// session. confirm, when not nil, is called with the row as read there
// and the new session's id, before commit; an error from it abandons the
// session and is returned. Login uses it to refuse a login whose account
// changed while its password was being checked, and to mint the access
// token from the current row before commit: an admin change that waited
// for the lock then comes after the token's iat, so the cut-off it makes
// covers the token, and the sessions it revokes include this one.
func (s *Sessions) Create(ctx context.Context, userID int64, confirm func(current *User, sid string) error) (sid, refreshToken string, expires time.Time, err error) {
	return s.create(ctx, userID, ClientGrant{}, confirm, nil)
}

// CreateLinked is Create that also runs link, when not nil, inside the
// session's transaction after the session row is written: a sign-in
// through an identity provider stores the provider's grant beside the
// session, so that neither exists without the other.
func (s *Sessions) CreateLinked(ctx context.Context, userID int64, confirm func(current *User, sid string) error,
	link func(ctx context.Context, tx *sqlx.Tx, sid string) error) (sid, refreshToken string, expires time.Time, err error) {
	return s.create(ctx, userID, ClientGrant{}, confirm, link)
}

// ClientGrant is what a session opened for an OAuth2 client records: the
// client, the scopes granted and the user's auth_time. The zero value is
// authgate's own sign-in.
type ClientGrant struct {
	ClientID string
	Scopes   []string
	AuthTime time.Time
}

// CreateFor is Create of a session for an OAuth2 client (the provider's
// authorization_code and password grants).
func (s *Sessions) CreateFor(ctx context.Context, userID int64, g ClientGrant, confirm func(current *User, sid string) error) (sid, refreshToken string, expires time.Time, err error) {
	return s.create(ctx, userID, g, confirm, nil)
}

func (s *Sessions) create(ctx context.Context, userID int64, g ClientGrant, confirm func(current *User, sid string) error,
	link func(ctx context.Context, tx *sqlx.Tx, sid string) error) (sid, refreshToken string, expires time.Time, err error) {
	sid, err = s.randomString(sessionIDBytes)
	if err != nil {
		return "", "", time.Time{}, err
	}
	token, hash, err := s.newToken()
	if err != nil {
		return "", "", time.Time{}, err
	}
	now := storedTime(s.now())
	expires = now.Add(s.ttl)
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return "", "", time.Time{}, s.err(ctx, "create session", err)
	}
	defer tx.Rollback()
	lock := ""
	if s.db.Dialect == store.Postgres {
		lock = " FOR SHARE"
	}
	var row userRow
	err = tx.QueryRowxContext(ctx, s.db.Rebind(`SELECT `+userColumns+` FROM users WHERE id = ?`+lock), userID).StructScan(&row)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", time.Time{}, fmt.Errorf("create session: user %d: %w", userID, problem.ErrNotFound)
	}
	if err != nil {
		return "", "", time.Time{}, s.err(ctx, "create session", err)
	}
	if confirm != nil {
		if err := confirm(row.user(), sid); err != nil {
			return "", "", time.Time{}, err
		}
	}
	var authTime sql.NullTime
	if !g.AuthTime.IsZero() {
		authTime = sql.NullTime{Time: storedTime(g.AuthTime), Valid: true}
	}
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO sessions (id, user_id, created_at, expires_at, client_id, scopes, auth_time)
		VALUES (?, ?, ?, ?, ?, ?, ?)`),
		sid, userID, now, expires, g.ClientID, strings.Join(g.Scopes, " "), authTime); err != nil {
		if store.IsForeignKeyViolation(err) {
			return "", "", time.Time{}, fmt.Errorf("create session: user %d: %w", userID, problem.ErrNotFound)
		}
		return "", "", time.Time{}, s.err(ctx, "create session", err)
	}
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) VALUES (?, ?, ?, ?)`),
		hash, sid, now, expires); err != nil {
		return "", "", time.Time{}, s.err(ctx, "create session", err)
	}
	if link != nil {
		if err := link(ctx, tx, sid); err != nil {
			return "", "", time.Time{}, err
		}
	}
	if err := tx.Commit(); err != nil {
		return "", "", time.Time{}, s.err(ctx, "create session", err)
	}
	return sid, token, expires, nil
}

// refreshRow is a refresh token joined with its session.
type refreshRow struct {
	SessionID      string       `db:"session_id"`
	UsedAt         sql.NullTime `db:"used_at"`
	TokenExpires   time.Time    `db:"token_expires"`
	UserID         int64        `db:"user_id"`
	SessionCreated time.Time    `db:"session_created"`
	SessionExpires time.Time    `db:"session_expires"`
	RevokedAt      sql.NullTime `db:"revoked_at"`
	ClientID       string       `db:"client_id"`
	// SuccessorSealed is set under tokens.refresh_reuse_grace.
	SuccessorSealed sql.NullString `db:"successor_sealed"`
}

// refreshColumns are refreshRow's; refreshFrom finds a token by its hash.
const (
	refreshColumns = `t.session_id, t.used_at, t.expires_at AS token_expires,
	s.user_id, s.created_at AS session_created, s.expires_at AS session_expires, s.revoked_at, s.client_id, t.successor_sealed`
	refreshFrom = `
	FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
	WHERE t.token_hash = ?`
	refreshTokenQuery = `SELECT ` + refreshColumns + refreshFrom
)

// ErrRefreshNotBound is a refresh token presented for a session it does
// not belong to (Rotate's sid): it is refused and left as it was.
var ErrRefreshNotBound = fmt.Errorf("%w: not of this browser's session", problem.ErrInvalidRefreshToken)

// Rotate exchanges a live refresh token for its successor, in one
// transaction: a cancelled or failed Rotate changes nothing, so the session
// keeps exactly one live token. With sid not empty, the token must belong
// to session sid: a browser's refresh cookie is bound to the session of
// its access cookie (see boundSession).
//
// Errors: ErrRefreshNotBound (an problem.ErrInvalidRefreshToken) for a token of
// another session than sid, which is left untouched; problem.ErrInvalidRefreshToken
// for a token that is unknown, expired, or of a revoked session;
// *ReuseError (problem.ErrRefreshReused) for a token already used, after revoking
// its session. Two Rotates of one token at once are a
// reuse too: exactly one wins (the conditional UPDATE below lets only one
// mark the token used), the other finds the token used, revokes the
// session and returns *ReuseError; so the winner's new token is dead as
// well. That is RFC 9700's rule, applied to a race it cannot tell from a
// replay. Later attempts find the session revoked: problem.ErrInvalidRefreshToken.
func (s *Sessions) Rotate(ctx context.Context, refreshToken, sid string) (Rotation, error) {
	return s.RotateFor(ctx, refreshToken, sid, "")
}

// RotateFor is Rotate of a token that must belong to a session opened for
// OAuth2 client clientID ("": authgate's own sign-ins). A token of another
// client's session, or of a sign-in when a client is named (and the other
// way round), is problem.ErrInvalidRefreshToken and left untouched: no
// client can use, or burn, a refresh token issued to another.
func (s *Sessions) RotateFor(ctx context.Context, refreshToken, sid, clientID string) (Rotation, error) {
	if !strings.HasPrefix(refreshToken, RefreshTokenPrefix) {
		return Rotation{}, problem.ErrInvalidRefreshToken
	}
	newToken, newHash, err := s.newToken()
	if err != nil {
		return Rotation{}, err
	}
	oldHash := refreshTokenHash(refreshToken)
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return Rotation{}, s.err(ctx, "rotate refresh token", err)
	}
	defer tx.Rollback()
	if s.db.Dialect == store.Postgres {
		// The common case in one statement (sessions_rotate_postgres.go);
		// a token that is not live is sorted out below.
		rot, ok, err := s.rotateLive(ctx, tx, storedTime(s.now()), oldHash, newToken, newHash, sid, clientID)
		if err != nil {
			return Rotation{}, err
		}
		if ok {
			if s.grace > 0 {
				if err := s.sealSuccessor(ctx, tx, oldHash, refreshToken, newToken); err != nil {
					return Rotation{}, err
				}
			}
			if err := tx.Commit(); err != nil {
				return Rotation{}, s.err(ctx, "rotate refresh token", err)
			}
			return rot, nil
		}
	}
	var row refreshRow
	err = tx.QueryRowxContext(ctx, s.db.Rebind(refreshTokenQuery), oldHash).StructScan(&row)
	if errors.Is(err, sql.ErrNoRows) {
		return Rotation{}, problem.ErrInvalidRefreshToken
	}
	if err != nil {
		return Rotation{}, s.err(ctx, "rotate refresh token", err)
	}
	if sid != "" && row.SessionID != sid {
		return Rotation{}, ErrRefreshNotBound
	}
	if row.ClientID != clientID {
		return Rotation{}, problem.ErrInvalidRefreshToken
	}
	now := storedTime(s.now())
	if row.RevokedAt.Valid || !now.Before(row.TokenExpires) || !now.Before(row.SessionExpires) {
		return Rotation{}, problem.ErrInvalidRefreshToken
	}
	reused := row.UsedAt.Valid
	if reused && s.grace > 0 {
		rot, ok, err := s.withinGrace(ctx, tx, row, oldHash, refreshToken, now)
		if err != nil || ok {
			return rot, err
		}
	}
	if !reused {
		res, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL`),
			now, oldHash)
		if err != nil {
			return Rotation{}, s.err(ctx, "rotate refresh token", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return Rotation{}, s.err(ctx, "rotate refresh token", err)
		}
		// 0: a concurrent Rotate of the same token committed first.
		reused = n != 1
	}
	if reused {
		if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`),
			now, row.SessionID); err != nil {
			return Rotation{}, s.err(ctx, "revoke reused session", err)
		}
		if err := tx.Commit(); err != nil {
			return Rotation{}, s.err(ctx, "revoke reused session", err)
		}
		return Rotation{}, &ReuseError{SessionID: row.SessionID, UserID: row.UserID}
	}
	expires := row.SessionExpires.UTC()
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) VALUES (?, ?, ?, ?)`),
		newHash, row.SessionID, now, expires); err != nil {
		return Rotation{}, s.err(ctx, "rotate refresh token", err)
	}
	if s.grace > 0 {
		if err := s.sealSuccessor(ctx, tx, oldHash, refreshToken, newToken); err != nil {
			return Rotation{}, err
		}
	}
	if err := tx.Commit(); err != nil {
		return Rotation{}, s.err(ctx, "rotate refresh token", err)
	}
	return Rotation{SessionID: row.SessionID, UserID: row.UserID, RefreshToken: newToken,
		Created: row.SessionCreated.UTC(), Expires: expires}, nil
}

// Lookup returns the session a refresh token belongs to, for a logout that
// presents only the refresh token. A used token, or one of a revoked
// session, still names its session (logging out twice is not an error);
// an unknown or expired token is problem.ErrInvalidRefreshToken.
func (s *Sessions) Lookup(ctx context.Context, refreshToken string) (sid string, userID int64, err error) {
	if !strings.HasPrefix(refreshToken, RefreshTokenPrefix) {
		return "", 0, problem.ErrInvalidRefreshToken
	}
	var row refreshRow
	err = s.db.QueryRowxContext(ctx, s.db.Rebind(refreshTokenQuery), refreshTokenHash(refreshToken)).StructScan(&row)
	if errors.Is(err, sql.ErrNoRows) {
		return "", 0, problem.ErrInvalidRefreshToken
	}
	if err != nil {
		return "", 0, s.err(ctx, "look up refresh token", err)
	}
	if !storedTime(s.now()).Before(row.SessionExpires) {
		return "", 0, problem.ErrInvalidRefreshToken
	}
	return row.SessionID, row.UserID, nil
}

// Revoke ends one session (logout) and returns its user. Revoking a
// revoked session again is not an error; an unknown sid is problem.ErrNotFound.
func (s *Sessions) Revoke(ctx context.Context, sid string) (userID int64, err error) {
	err = s.db.GetContext(ctx, &userID, s.db.Rebind(`UPDATE sessions SET revoked_at = COALESCE(revoked_at, ?)
		WHERE id = ? RETURNING user_id`), storedTime(s.now()), sid)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("session %s: %w", sid, problem.ErrNotFound)
	}
	if err != nil {
		return 0, s.err(ctx, "revoke session", err)
	}
	return userID, nil
}

// RevokeUser ends every live session of a user (logout everywhere,
// disable, password change) and returns their ids, for the caller to
// denylist.
func (s *Sessions) RevokeUser(ctx context.Context, userID int64) (sids []string, err error) {
	now := storedTime(s.now())
	err = s.db.SelectContext(ctx, &sids, s.db.Rebind(`UPDATE sessions SET revoked_at = ?
		WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ? RETURNING id`), now, userID, now)
	if err != nil {
		return nil, s.err(ctx, "revoke user sessions", err)
	}
	return sids, nil
}

// Prune deletes sessions, with all their refresh tokens, that expired or
// were revoked more than a grace period (a day) before now, and returns how
// many sessions it deleted. Used tokens of a live session are kept: they
// are what detects a replay. Run it periodically (hourly is plenty).
func (s *Sessions) Prune(ctx context.Context, now time.Time) (int64, error) {
	cutoff := storedTime(now.Add(-pruneGrace))
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return 0, s.err(ctx, "prune sessions", err)
	}
	defer tx.Rollback()
	const dead = `(expires_at < ? OR revoked_at < ?)`
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`DELETE FROM identity_sessions
		WHERE session_id IN (SELECT id FROM sessions WHERE `+dead+`)`), cutoff, cutoff); err != nil {
		return 0, s.err(ctx, "prune sessions", err)
	}
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`DELETE FROM refresh_tokens
		WHERE session_id IN (SELECT id FROM sessions WHERE `+dead+`)`), cutoff, cutoff); err != nil {
		return 0, s.err(ctx, "prune sessions", err)
	}
	res, err := tx.ExecContext(ctx, s.db.Rebind(`DELETE FROM sessions WHERE `+dead), cutoff, cutoff)
	if err != nil {
		return 0, s.err(ctx, "prune sessions", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.err(ctx, "prune sessions", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, s.err(ctx, "prune sessions", err)
	}
	return n, nil
}
