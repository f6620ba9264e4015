package denylist

import (
	"context"
	"time"

	"github.com/authgate/authgate/identity"
)

// Revocation ends tokens before they expire. Exactly one of SessionID or
// UserID is set:
//
//   - SessionID: every access token of that session (sid) is rejected —
//     logout of one session, refresh-token reuse (RFC 9700 §4.14.2).
//   - UserID: every access token of that user issued before NotBefore is
//     rejected — logout everywhere, password change, disable. A zero
//     NotBefore means "now".
//
// Tokens are never listed by their raw string: the sid and the per-user
// cut-off cover every token a session or a user holds, and keep the list
// free of secrets.
//
// Expires is when the entry may be forgotten, because nothing it covers can
// still be valid. Zero (the usual case) means: for a session, now plus the
// access-token lifetime; for a user, NotBefore plus the access-token
// lifetime. A later Expires is kept; an earlier one is raised to that
// minimum, so a caller cannot open a hole by passing too short a value.
type Revocation struct {
	SessionID string
	UserID    string
	NotBefore time.Time
	Expires   time.Time
}

// Denylist is what the protected-route path and the /auth handlers need
// from the revocation list. Check runs on every request and must stay
// in-memory; Revoke is the rare write.
type Denylist interface {
	// Revoke stores r durably and fans it out to every instance. It
	// returns only after this instance's own Check rejects what r covers,
	// and returns an error wrapping problem.ErrDenylistUnavailable when the store
	// could not be written: it never claims a revocation it did not make.
	Revoke(ctx context.Context, r Revocation) error
	// Check reports whether id's token is still allowed: nil,
	// problem.ErrTokenRevoked, or problem.ErrDenylistUnavailable when the in-memory mirror
	// cannot be trusted and the deployment fails closed. It does no I/O
	// and no allocation.
	Check(id *identity.Identity) error
}

// Mirrored is a Denylist as a process runs it: with the loop that keeps
// its in-memory mirror current and the mirror's health.
type Mirrored interface {
	Denylist
	// Run keeps the mirror current until ctx ends.
	Run(ctx context.Context) error
	// Ready reports whether the mirror can be trusted (/readyz).
	Ready() bool
}

var (
	_ Mirrored = (*RedisDenylist)(nil)
	_ Mirrored = (*DBDenylist)(nil)
)

// OnError values (redis.on_error): what Check answers for a token it knows
// nothing against while the mirror is not trusted.
const (
	OnErrorDeny  = "deny"  // problem.ErrDenylistUnavailable: fail closed (the default)
	OnErrorAllow = "allow" // nil: keep serving from what the mirror holds
)

// Entry kinds, as stored in the revocations table and sent on the wire.
const (
	kindSession = "session"
	kindUser    = "user"
)

// entry is one revocation as the mirror and the stores hold it. Times are
// Unix milliseconds, the resolution of the revocations table.
type entry struct {
	kind      string // kindSession or kindUser
	subject   string // the sid or the user id
	notBefore int64  // users: tokens issued before this are revoked; sessions: when revoked
	expires   int64  // the entry can be forgotten from this instant on
}
