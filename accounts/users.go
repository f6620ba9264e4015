package accounts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/problem"
	"github.com/authgate/authgate/store"
)

// User is an account as callers see it. The password hash never leaves
// this file.
type User struct {
	ID                int64
	Username          string // NFKC form, as typed at registration
	Email             string
	IsActive          bool
	Roles             []string // sorted, never nil
	CreatedAt         time.Time
	PasswordChangedAt time.Time // zero if the password was never changed
	DisabledAt        time.Time // when last disabled; zero if never
}

// sessionsFrom is the earliest creation time of a session of u that may
// still be refreshed: sessions from before the last password change or
// disable are over.
func (u *User) sessionsFrom() time.Time {
	if u.DisabledAt.After(u.PasswordChangedAt) {
		return u.DisabledAt
	}
	return u.PasswordChangedAt
}

// NewUser is what the admin path (authgate user add) creates.
type NewUser struct {
	Username string
	Email    string
	Password string
	Roles    []string
}

// Users is the account store: registration, login and the admin
// operations, on PostgreSQL or SQLite through one code path. Safe for
// concurrent use.
type Users struct {
	db     *store.DB
	open   bool // self-registration allowed
	hasher *passwordHasher
	policy passwordPolicy
	now    func() time.Time // the clock; tests set it
	// logger names the rows of a collision that refuses a login; Open
	// sets the service's.
	logger *slog.Logger
}

// NewUsers builds the account store on db, an opened (migrated) database,
// from a validated accounts section (Config.SetDefaults applied: the same
// Validate as the loader's runs here, so a value out of range is reported
// per key). It fills the normalised keys of rows written by the original
// service (adopt); rows that are one account after normalisation do not
// stop it (see Collision).
func NewUsers(ctx context.Context, db *store.DB, cfg Config) (*Users, error) {
	if db == nil {
		return nil, errors.New("users: no database")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return newUsers(ctx, db, cfg)
}

// newUsers builds the store from a validated cfg. Open and the tests call
// it directly to hash at another cost (Options.HashCost).
func newUsers(ctx context.Context, db *store.DB, cfg Config) (*Users, error) {
	passlib := cfg.PasswordHash == PasswordHashPasslib
	hasher, err := newPasswordHasher(cfg.BcryptCost, passlib)
	if err != nil {
		return nil, fmt.Errorf("users: %w", err)
	}
	u := &Users{
		db:     db,
		open:   cfg.Registration == registrationOpen,
		hasher: hasher,
		policy: passwordPolicy{minRunes: cfg.MinPasswordLength, common: commonPasswords()},
		now:    time.Now,
		logger: slog.New(slog.DiscardHandler),
	}
	if passlib {
		u.policy.maxBytes = bcryptMaxInput
	}
	if _, err := u.adopt(ctx); err != nil {
		return nil, err
	}
	return u, nil
}

// userColumns are selected (or returned) for every User; the password hash
// is read only where it is needed.
const userColumns = `id, username, email, is_active, roles, created_at, password_changed_at, disabled_at`

// userRow is a users row as scanned. Columns of the original service's
// table are nullable there (SQLAlchemy's default), hence the Null types:
// a NULL is_active reads as disabled, as it did in the original.
type userRow struct {
	ID                int64          `db:"id"`
	Username          sql.NullString `db:"username"`
	Email             sql.NullString `db:"email"`
	IsActive          sql.NullBool   `db:"is_active"`
	Roles             string         `db:"roles"`
	CreatedAt         sql.NullTime   `db:"created_at"`
	PasswordChangedAt sql.NullTime   `db:"password_changed_at"`
	DisabledAt        sql.NullTime   `db:"disabled_at"`
	HashedPassword    sql.NullString `db:"hashed_password"`
}

func (r *userRow) user() *User {
	u := &User{
		ID:       r.ID,
		Username: r.Username.String,
		Email:    r.Email.String,
		IsActive: r.IsActive.Valid && r.IsActive.Bool,
		Roles:    splitRoles(r.Roles),
	}
	if r.CreatedAt.Valid {
		u.CreatedAt = r.CreatedAt.Time.UTC()
	}
	if r.PasswordChangedAt.Valid {
		u.PasswordChangedAt = r.PasswordChangedAt.Time.UTC()
	}
	if r.DisabledAt.Valid {
		u.DisabledAt = r.DisabledAt.Time.UTC()
	}
	return u
}

// storedTime is how every time is written: UTC (a PostgreSQL TIMESTAMP has
// no zone), no monotonic reading, microseconds (PostgreSQL's precision, so a
// value reads back equal on both databases). On SQLite the text forms of
// such times sort like the times, which the expiry queries rely on.
func storedTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func (u *Users) err(ctx context.Context, op string, err error) error {
	return u.db.Err(ctx, op, err)
}

// Register creates an account from the public registration endpoint: no
// roles, active. problem.ErrRegistrationClosed when accounts.registration is
// closed; *problem.ValidationError for a field that breaks a rule;
// problem.ErrUsernameTaken or problem.ErrEmailTaken.
func (u *Users) Register(ctx context.Context, username, email, password string) (*User, error) {
	if !u.open {
		return nil, problem.ErrRegistrationClosed
	}
	return u.Create(ctx, NewUser{Username: username, Email: email, Password: password})
}

// Create creates an account on the admin path (the CLI), whatever the
// registration setting, with the given roles.
func (u *Users) Create(ctx context.Context, nu NewUser) (*User, error) {
	username, ukey, err := normalizeUsername(nu.Username)
	if err != nil {
		return nil, err
	}
	email, ekey, err := normalizeEmail(nu.Email)
	if err != nil {
		return nil, err
	}
	roles, err := normalizeRoles(nu.Roles)
	if err != nil {
		return nil, err
	}
	if err := u.policy.check(nu.Password, username, email); err != nil {
		return nil, err
	}
	// A name or address that is taken is refused before the expensive
	// part: re-registering an existing name must not cost a bcrypt. The
	// unique indexes still decide a race between two registrations.
	if err := u.taken(ctx, ukey, ekey); err != nil {
		return nil, err
	}
	hash, err := u.hasher.hash(ctx, nu.Password)
	if err != nil {
		return nil, err
	}
	now := storedTime(u.now())
	var row userRow
	err = u.db.QueryRowxContext(ctx, u.db.Rebind(`INSERT INTO users
		(username, email, hashed_password, is_active, created_at, username_key, email_key, roles, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING `+userColumns),
		username, email, hash, true, now, ukey, ekey, strings.Join(roles, ","), now).StructScan(&row)
	if err != nil {
		if constraint, ok := store.IsUniqueViolation(err); ok {
			return nil, u.whichTaken(ctx, constraint, ukey, ekey, err)
		}
		return nil, u.err(ctx, "create user", err)
	}
	return row.user(), nil
}

// taken returns problem.ErrUsernameTaken or problem.ErrEmailTaken when an account already
// has the normalised username ukey or email ekey, and nil otherwise —
// whoever wrote that account: rows the original service wrote are adopted
// first, and those it cannot adopt (a collision) count as taken too, so
// authgate never creates a collision itself.
func (u *Users) taken(ctx context.Context, ukey, ekey string) error {
	collisions, err := u.adopt(ctx)
	if err != nil {
		return err
	}
	for _, c := range collisions {
		for _, r := range c.Rows {
			if r.ukey == ukey {
				return problem.ErrUsernameTaken
			}
		}
	}
	for _, c := range collisions {
		for _, r := range c.Rows {
			if r.ekey == ekey {
				return problem.ErrEmailTaken
			}
		}
	}
	var keys []struct {
		Username sql.NullString `db:"username_key"`
		Email    sql.NullString `db:"email_key"`
	}
	err = u.db.SelectContext(ctx, &keys, u.db.Rebind(`SELECT username_key, email_key FROM users
		WHERE username_key = ? OR email_key = ?`), ukey, ekey)
	if err != nil {
		return u.err(ctx, "create user", err)
	}
	for _, k := range keys {
		if k.Username.String == ukey {
			return problem.ErrUsernameTaken
		}
	}
	if len(keys) > 0 {
		return problem.ErrEmailTaken
	}
	return nil
}

// whichTaken turns a unique violation on insert into problem.ErrUsernameTaken or
// problem.ErrEmailTaken. PostgreSQL names the index (users_username_key_idx, or
// the original service's ix_users_username / users_username_key); SQLite
// only says so in its message text, which is not matched here: the keys
// are looked up instead.
func (u *Users) whichTaken(ctx context.Context, constraint, ukey, ekey string, cause error) error {
	switch {
	case strings.Contains(constraint, "username"):
		return problem.ErrUsernameTaken
	case strings.Contains(constraint, "email"):
		return problem.ErrEmailTaken
	}
	var n int
	err := u.db.GetContext(ctx, &n, u.db.Rebind(`SELECT COUNT(*) FROM users WHERE username_key = ?`), ukey)
	if err != nil {
		return u.err(ctx, "create user", err)
	}
	if n > 0 {
		return problem.ErrUsernameTaken
	}
	err = u.db.GetContext(ctx, &n, u.db.Rebind(`SELECT COUNT(*) FROM users WHERE email_key = ?`), ekey)
	if err != nil {
		return u.err(ctx, "create user", err)
	}
	if n > 0 {
		return problem.ErrEmailTaken
	}
	return u.err(ctx, "create user", cause)
}

// Authenticate checks a username and password. An unknown username and a
// wrong password both return problem.ErrInvalidCredentials after the same work (one
// lookup, one bcrypt verification against a hash of the configured cost),
// so neither the answer nor its timing tells a guesser which usernames
// exist. problem.ErrUserDisabled comes only after the password verified: whether
// an account is disabled is not told to someone who cannot log in to it.
// A hash in the legacy scheme or at another cost is replaced on success.
//
// Rows the original service wrote since are adopted first. An account that
// is one of a Collision is refused as a wrong password would be, and the
// rows are logged for the operator.
//
// The user returned is the row as read before the password was checked
// (a quarter of a second earlier at bcrypt cost 12): whoever acts on it
// later reads it again — Login does, in the transaction that creates the
// session (Sessions.Create).
func (u *Users) Authenticate(ctx context.Context, username, password string) (*User, error) {
	if len(username) > usernameMaxInput {
		if err := u.hasher.verifyDummy(ctx, password); err != nil {
			return nil, err
		}
		return nil, problem.ErrInvalidCredentials
	}
	collisions, err := u.adopt(ctx)
	if err != nil {
		return nil, err
	}
	key := usernameKey(username)
	var row userRow
	err = u.db.QueryRowxContext(ctx, u.db.Rebind(`SELECT `+userColumns+`, hashed_password
		FROM users WHERE username_key = ?`), key).StructScan(&row)
	if errors.Is(err, sql.ErrNoRows) {
		row.ID = -1
		err = nil
	}
	if err != nil {
		return nil, u.err(ctx, "authenticate", err)
	}
	for _, c := range collisions {
		if c.involves(row.ID, key) {
			u.logger.Warn("login refused: users rows are one account after normalisation; rename or merge them (authgate user conflicts)",
				"collision", c.Error())
			if err := u.hasher.verifyDummy(ctx, password); err != nil {
				return nil, err
			}
			return nil, problem.ErrInvalidCredentials
		}
	}
	if row.ID == -1 {
		if err := u.hasher.verifyDummy(ctx, password); err != nil {
			return nil, err
		}
		return nil, problem.ErrInvalidCredentials
	}
	ok, rehash, err := u.hasher.verify(ctx, row.HashedPassword.String, password)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, problem.ErrInvalidCredentials
	}
	user := row.user()
	if !user.IsActive {
		return nil, problem.ErrUserDisabled
	}
	if rehash {
		// Best effort: if the upgrade fails the old hash still verifies and
		// the next login tries again. Compare-and-set on the old hash so a
		// concurrent password change is never overwritten.
		if hash, err := u.hasher.hash(ctx, password); err == nil {
			_, _ = u.db.ExecContext(ctx, u.db.Rebind(`UPDATE users SET hashed_password = ?, updated_at = ?
				WHERE id = ? AND hashed_password = ?`), hash, storedTime(u.now()), row.ID, row.HashedPassword.String)
		}
	}
	return user, nil
}

// Get returns the user with id, or problem.ErrNotFound.
func (u *Users) Get(ctx context.Context, id int64) (*User, error) {
	var row userRow
	err := u.db.QueryRowxContext(ctx, u.db.Rebind(`SELECT `+userColumns+` FROM users WHERE id = ?`), id).StructScan(&row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("user %d: %w", id, problem.ErrNotFound)
	}
	if err != nil {
		return nil, u.err(ctx, "get user", err)
	}
	return row.user(), nil
}

// ByUsername returns the user whose username normalises like username, or
// problem.ErrNotFound.
func (u *Users) ByUsername(ctx context.Context, username string) (*User, error) {
	collisions, err := u.adopt(ctx)
	if err != nil {
		return nil, err
	}
	key := usernameKey(username)
	var row userRow
	err = u.db.QueryRowxContext(ctx, u.db.Rebind(`SELECT `+userColumns+` FROM users WHERE username_key = ?`),
		key).StructScan(&row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("user %q: %w", username, problem.ErrNotFound)
	}
	if err != nil {
		return nil, u.err(ctx, "get user", err)
	}
	for _, c := range collisions {
		if c.involves(row.ID, key) {
			return nil, fmt.Errorf("user %q: %w: %w", username, problem.ErrNotFound, c)
		}
	}
	return row.user(), nil
}

// List returns every user, by id.
func (u *Users) List(ctx context.Context) ([]User, error) {
	rows, err := u.db.QueryxContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY id`)
	if err != nil {
		return nil, u.err(ctx, "list users", err)
	}
	defer rows.Close()
	out := []User{}
	for rows.Next() {
		var row userRow
		if err := rows.StructScan(&row); err != nil {
			return nil, u.err(ctx, "list users", err)
		}
		out = append(out, *row.user())
	}
	if err := rows.Err(); err != nil {
		return nil, u.err(ctx, "list users", err)
	}
	return out, nil
}

// splitRoles parses the stored comma-separated roles.
func splitRoles(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}
