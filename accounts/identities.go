package accounts

// Identities linked from upstream identity providers (issue 13) and the
// provider grant kept beside each session that began at one: the tables
// of store migration 0040.

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/authgate/authgate/federation"
	"github.com/authgate/authgate/internal/problem"
	"github.com/authgate/authgate/store"
)

// Identity is a provider identity linked to a user: (Issuer, Subject) is
// its key, Provider the configured name it was linked through.
type Identity struct {
	ID          int64     `json:"id"`
	UserID      int64     `json:"user_id"`
	Provider    string    `json:"provider"`
	Issuer      string    `json:"issuer"`
	Subject     string    `json:"subject"`
	Email       string    `json:"email"`
	CreatedAt   time.Time `json:"created_at"`
	LastLoginAt time.Time `json:"last_login_at"`
}

const identityColumns = `id, user_id, provider, issuer, subject, email, created_at, last_login_at`

type identityRow struct {
	ID          int64        `db:"id"`
	UserID      int64        `db:"user_id"`
	Provider    string       `db:"provider"`
	Issuer      string       `db:"issuer"`
	Subject     string       `db:"subject"`
	Email       string       `db:"email"`
	CreatedAt   time.Time    `db:"created_at"`
	LastLoginAt sql.NullTime `db:"last_login_at"`
}

func (r *identityRow) identity() Identity {
	id := Identity{ID: r.ID, UserID: r.UserID, Provider: r.Provider, Issuer: r.Issuer, Subject: r.Subject,
		Email: r.Email, CreatedAt: r.CreatedAt.UTC()}
	if r.LastLoginAt.Valid {
		id.LastLoginAt = r.LastLoginAt.Time.UTC()
	}
	return id
}

// noPassword is the hashed_password of a user created by a sign-in at a
// provider: no hash scheme reads it, so no password ever opens the
// account (Authenticate spends a dummy verification on it, as on any
// unknown hash) until an admin sets one with `authgate user passwd`.
const noPassword = "!federated"

// identityBySubject returns the identity linked to (issuer, subject), or
// nil when there is none.
func (s *Service) identityBySubject(ctx context.Context, issuer, subject string) (*Identity, error) {
	var row identityRow
	err := s.db.QueryRowxContext(ctx, s.db.Rebind(`SELECT `+identityColumns+` FROM identities
		WHERE issuer = ? AND subject = ?`), issuer, subject).StructScan(&row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, s.db.Err(ctx, "look up identity", err)
	}
	id := row.identity()
	return &id, nil
}

// userIDByEmail returns the id of the user whose email address is email
// (compared as the users table compares them), or 0.
func (s *Service) userIDByEmail(ctx context.Context, email string) (int64, error) {
	var id int64
	err := s.db.GetContext(ctx, &id, s.db.Rebind(`SELECT id FROM users WHERE email_key = ?`), emailKey(email))
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, s.db.Err(ctx, "look up user by email", err)
	}
	return id, nil
}

// insertIdentity links res's identity to userID, in tx.
func (s *Service) insertIdentity(ctx context.Context, tx *sqlx.Tx, userID int64, res *federation.Result) (int64, error) {
	var id int64
	now := storedTime(s.now())
	err := tx.GetContext(ctx, &id, s.db.Rebind(`INSERT INTO identities
		(user_id, provider, issuer, subject, email, created_at, last_login_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		userID, res.Provider, res.Issuer, res.Subject, verifiedEmail(res), now, now)
	if _, ok := store.IsUniqueViolation(err); ok {
		// Two first sign-ins of one identity at once: the other linked it.
		return 0, fmt.Errorf("%w: this identity was linked meanwhile; sign in again", problem.ErrSignInFlow)
	}
	if err != nil {
		return 0, s.db.Err(ctx, "link identity", err)
	}
	return id, nil
}

// verifiedEmail is the address the provider vouches for, or "".
func verifiedEmail(res *federation.Result) string {
	if res.EmailVerified {
		return res.Email
	}
	return ""
}

// linkIdentity links res's identity to the existing user userID.
func (s *Service) linkIdentity(ctx context.Context, userID int64, res *federation.Result) (int64, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return 0, s.db.Err(ctx, "link identity", err)
	}
	defer tx.Rollback()
	id, err := s.insertIdentity(ctx, tx, userID, res)
	if err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, s.db.Err(ctx, "link identity", err)
	}
	return id, nil
}

// createFederatedUser creates the user of a first sign-in and links the
// identity to it, in one transaction. The username is the provider's hint
// when it is a valid, free username, else the local part of the email
// address, else the provider's name and a digest of the identity. The
// email address is kept only when the provider verified it: an address
// anyone can type at a provider must not become a local account's, which a
// trusted provider could later be linked to. Without one, the user gets
// an address under .invalid (RFC 2606), which no mail reaches.
func (s *Service) createFederatedUser(ctx context.Context, res *federation.Result) (userID, identityID int64, err error) {
	digest := sha256.Sum256([]byte(res.Issuer + "\x00" + res.Subject))
	tag := hex.EncodeToString(digest[:6])
	email, ekey, eerr := normalizeEmail(verifiedEmail(res))
	if eerr != nil {
		email, ekey, _ = normalizeEmail(res.Provider + "-" + tag + "@identity.invalid")
	}
	var roles []string
	if res.ManagesRoles {
		if roles, err = normalizeRoles(res.Roles); err != nil {
			return 0, 0, err
		}
	}
	local, _, _ := strings.Cut(email, "@")
	username, ukey := "", ""
	for _, hint := range []string{res.Username, local, res.Provider + "-" + tag} {
		name, key, nerr := normalizeUsername(hint)
		if nerr != nil {
			continue
		}
		var n int
		if err := s.db.GetContext(ctx, &n, s.db.Rebind(`SELECT COUNT(*) FROM users WHERE username_key = ?`), key); err != nil {
			return 0, 0, s.db.Err(ctx, "create user", err)
		}
		if n == 0 {
			username, ukey = name, key
			break
		}
	}
	if username == "" {
		return 0, 0, problem.ErrUsernameTaken
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return 0, 0, s.db.Err(ctx, "create user", err)
	}
	defer tx.Rollback()
	now := storedTime(s.now())
	err = tx.GetContext(ctx, &userID, s.db.Rebind(`INSERT INTO users
		(username, email, hashed_password, is_active, created_at, username_key, email_key, roles, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		username, email, noPassword, true, now, ukey, ekey, strings.Join(roles, ","), now)
	if constraint, ok := store.IsUniqueViolation(err); ok {
		if strings.Contains(constraint, "email") {
			return 0, 0, problem.ErrEmailTaken
		}
		return 0, 0, problem.ErrUsernameTaken // taken since the check: the next sign-in picks another
	}
	if err != nil {
		return 0, 0, s.db.Err(ctx, "create user", err)
	}
	if identityID, err = s.insertIdentity(ctx, tx, userID, res); err != nil {
		return 0, 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, 0, s.db.Err(ctx, "create user", err)
	}
	s.logger.Info("user created at first sign-in", "user_id", userID, "username", username, "provider", res.Provider)
	return userID, identityID, nil
}

// grant is the provider grant behind one session.
type grant struct {
	IdentityID   int64  `db:"identity_id"`
	UserID       int64  `db:"user_id"`
	Provider     string `db:"provider"`
	Issuer       string `db:"issuer"`
	Subject      string `db:"subject"`
	RefreshToken string `db:"refresh_token"` // sealed
	IDToken      string `db:"id_token"`      // sealed
}

// sealContext binds a sealed provider token to its row: copied into
// another session's row, it does not open.
func sealContext(sid, issuer, subject, kind string) string {
	return strings.Join([]string{"identity_sessions", sid, issuer, subject, kind}, "\x00")
}

// sessionGrant returns the provider grant of session sid, or nil when the
// session did not begin at a provider.
func (s *Service) sessionGrant(ctx context.Context, sid string) (*grant, error) {
	var g grant
	err := s.db.QueryRowxContext(ctx, s.db.Rebind(`SELECT g.identity_id, i.user_id, i.provider, i.issuer, i.subject,
		g.refresh_token, g.id_token
		FROM identity_sessions g JOIN identities i ON i.id = g.identity_id WHERE g.session_id = ?`), sid).StructScan(&g)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, s.db.Err(ctx, "read provider grant", err)
	}
	return &g, nil
}

// seal seals a provider token for session sid's row; "" stays "".
func (s *Service) seal(token, sid, issuer, subject, kind string) (string, error) {
	if token == "" {
		return "", nil
	}
	return s.sealer.Seal(token, sealContext(sid, issuer, subject, kind))
}

// open opens what seal sealed.
func (s *Service) open(sealed, sid, issuer, subject, kind string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	return s.sealer.Open(sealed, sealContext(sid, issuer, subject, kind))
}

// setRolesByID replaces the roles of user id with roles the provider
// granted.
func (s *Service) setRolesByID(ctx context.Context, id int64, roles []string) error {
	roles, err := normalizeRoles(roles)
	if err != nil {
		return err
	}
	now := storedTime(s.now())
	_, err = s.db.ExecContext(ctx, s.db.Rebind(`UPDATE users SET roles = ?, updated_at = ? WHERE id = ? AND roles <> ?`),
		strings.Join(roles, ","), now, id, strings.Join(roles, ","))
	if err != nil {
		return s.db.Err(ctx, "set roles", err)
	}
	return nil
}

// Identities lists the identities linked to the user called username.
func (s *Service) Identities(ctx context.Context, username string) ([]Identity, error) {
	u, err := s.users.ByUsername(ctx, username)
	if err != nil {
		return nil, err
	}
	return s.identitiesOf(ctx, u.ID)
}

func (s *Service) identitiesOf(ctx context.Context, userID int64) ([]Identity, error) {
	var rows []identityRow
	err := s.db.SelectContext(ctx, &rows, s.db.Rebind(`SELECT `+identityColumns+` FROM identities
		WHERE user_id = ? ORDER BY id`), userID)
	if err != nil {
		return nil, s.db.Err(ctx, "list identities", err)
	}
	out := make([]Identity, 0, len(rows))
	for i := range rows {
		out = append(out, rows[i].identity())
	}
	return out, nil
}

// unlink removes identity id of userID and ends every session that began
// through it, their access tokens denylisted first. problem.ErrNotFound
// when the user has no such identity.
func (s *Service) unlink(ctx context.Context, userID, id int64) error {
	var sids []string
	err := s.db.SelectContext(ctx, &sids, s.db.Rebind(`SELECT g.session_id FROM identity_sessions g
		JOIN sessions s ON s.id = g.session_id
		WHERE g.identity_id = ? AND s.revoked_at IS NULL AND s.expires_at > ?`), id, storedTime(s.now()))
	if err != nil {
		return s.db.Err(ctx, "unlink identity", err)
	}
	var errs []error
	for _, sid := range sids {
		errs = append(errs, s.endSession(ctx, sid))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return s.db.Err(ctx, "unlink identity", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`DELETE FROM identity_sessions WHERE identity_id = ?`), id); err != nil {
		return s.db.Err(ctx, "unlink identity", err)
	}
	res, err := tx.ExecContext(ctx, s.db.Rebind(`DELETE FROM identities WHERE id = ? AND user_id = ?`), id, userID)
	if err != nil {
		return s.db.Err(ctx, "unlink identity", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("identity %d: %w", id, problem.ErrNotFound)
	}
	if err := tx.Commit(); err != nil {
		return s.db.Err(ctx, "unlink identity", err)
	}
	return nil
}
