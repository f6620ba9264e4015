package accounts

// The administrative changes to an account (authgate user disable,
// enable, roles, passwd). The Service revokes what each change ends
// (service_admin.go).

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/authgate/authgate/internal/problem"
)

// SetActive enables or disables an account; disabling records when, in
// DisabledAt. The caller ends its sessions and denylists its tokens when
// disabling.
func (u *Users) SetActive(ctx context.Context, username string, active bool) (*User, error) {
	if active {
		return u.update(ctx, "set active", username, `is_active = ?`, true)
	}
	return u.update(ctx, "set active", username, `is_active = ?, disabled_at = ?`, false, storedTime(u.now()))
}

// SetRoles replaces the roles of an account. Roles are 1–64 characters of
// ASCII letters, digits and . _ : - (they travel comma-separated in a
// header); they are de-duplicated and sorted.
func (u *Users) SetRoles(ctx context.Context, username string, roles []string) (*User, error) {
	roles, err := normalizeRoles(roles)
	if err != nil {
		return nil, err
	}
	return u.update(ctx, "set roles", username, `roles = ?`, strings.Join(roles, ","))
}

// SetPassword replaces the password of an account and records when, in
// PasswordChangedAt: the caller revokes tokens issued before that time.
func (u *Users) SetPassword(ctx context.Context, username, password string) (*User, error) {
	user, err := u.ByUsername(ctx, username)
	if err != nil {
		return nil, err
	}
	if err := u.policy.check(password, user.Username, user.Email); err != nil {
		return nil, err
	}
	hash, err := u.hasher.hash(ctx, password)
	if err != nil {
		return nil, err
	}
	return u.update(ctx, "set password", username, `hashed_password = ?, password_changed_at = ?`, hash, storedTime(u.now()))
}

// update sets columns (an SQL "a = ?, b = ?" list with its args) on the
// user with username and returns the updated user.
func (u *Users) update(ctx context.Context, op, username, set string, args ...any) (*User, error) {
	args = append(args, storedTime(u.now()), usernameKey(username))
	var row userRow
	err := u.db.QueryRowxContext(ctx, u.db.Rebind(`UPDATE users SET `+set+`, updated_at = ?
		WHERE username_key = ? RETURNING `+userColumns), args...).StructScan(&row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("user %q: %w", username, problem.ErrNotFound)
	}
	if err != nil {
		return nil, u.err(ctx, op, err)
	}
	return row.user(), nil
}

const roleMaxLen = 64

// normalizeRoles checks, de-duplicates and sorts roles.
func normalizeRoles(roles []string) ([]string, error) {
	out := make([]string, 0, len(roles))
	for _, r := range roles {
		if r == "" || len(r) > roleMaxLen {
			return nil, &problem.ValidationError{Field: "roles", Msg: fmt.Sprintf("role %q must be 1 to %d characters long", r, roleMaxLen)}
		}
		for _, c := range r {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
				return nil, &problem.ValidationError{Field: "roles", Msg: fmt.Sprintf("role %q may contain only ASCII letters, digits and . _ : -", r)}
			}
		}
		out = append(out, r)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
