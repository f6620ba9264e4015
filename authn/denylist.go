package authn

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
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
	// and returns an error wrapping ErrDenylistUnavailable when the store
	// could not be written: it never claims a revocation it did not make.
	Revoke(ctx context.Context, r Revocation) error
	// Check reports whether id's token is still allowed: nil,
	// ErrTokenRevoked, or ErrDenylistUnavailable when the in-memory mirror
	// cannot be trusted and the deployment fails closed. It does no I/O
	// and no allocation.
	Check(id *Identity) error
}

var (
	_ Denylist = (*RedisDenylist)(nil)
	_ Denylist = (*DBDenylist)(nil)
)

// OnError values (redis.on_error): what Check answers for a token it knows
// nothing against while the mirror is not trusted.
const (
	OnErrorDeny  = "deny"  // ErrDenylistUnavailable: fail closed (the default)
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

// userCutoff is the mirror's record for one user.
type userCutoff struct {
	notBefore int64
	expires   int64
}

// mirror is the in-memory copy of the denylist that Check reads. Both
// implementations (Redis and database) feed one; it answers without I/O.
//
// Trust is a lease: the goroutine that keeps the mirror current (the Redis
// subscription, the database poller) extends it each time it hears from its
// store. If that goroutine stalls or its store goes quiet, the lease runs
// out by itself and Check fails closed, without needing the goroutine to
// notice first.
type mirror struct {
	now       func() time.Time // the clock; tests set it
	failOpen  bool             // OnErrorAllow
	accessTTL time.Duration    // the longest access-token lifetime still possible

	epoch        time.Time    // origin of trustedUntil, read through now() for a monotonic lease
	trustedUntil atomic.Int64 // nanoseconds since epoch; 0 = not trusted

	mu       sync.RWMutex
	sessions map[string]int64 // sid → expires (Unix ms)
	users    map[string]userCutoff
}

func newMirror(onError string, accessTTL time.Duration) *mirror {
	if accessTTL <= 0 {
		accessTTL = 15 * time.Minute // tokens.access_ttl default
	}
	m := &mirror{
		now:       time.Now,
		failOpen:  onError == OnErrorAllow, // anything else fails closed
		accessTTL: accessTTL,
		sessions:  make(map[string]int64),
		users:     make(map[string]userCutoff),
	}
	m.epoch = m.now()
	return m
}

// check is Denylist.Check. A known revocation is reported as such even
// while the mirror is untrusted: that answer cannot be wrong.
//
// The user cut-off compares the token's issue instant with the cut-off to
// the millisecond: a token is revoked iff IssuedAt < NotBefore. Why not
// round: logout-all at 12:00:00.400 must kill a token issued at
// 12:00:00.100, and must not kill the one the user gets by logging in again
// at 12:00:00.600. Only sub-second issue times can tell those apart, so the
// token issuer is expected to put a fractional iat in the JWT (RFC 7519 §2
// allows a non-integer NumericDate) and carry it into Identity.IssuedAt.
// With whole-second iat (12:00:00 for both) the same comparison fails safe:
// both tokens are rejected, and a token minted in the same second as the
// cut-off stays rejected until it expires.
func (m *mirror) check(id *Identity) error {
	trusted := m.trusted()
	m.mu.RLock()
	_, sessionRevoked := m.sessions[id.SessionID]
	u, hasCutoff := m.users[id.UserID]
	m.mu.RUnlock()
	if sessionRevoked || hasCutoff && id.IssuedAt.UnixMilli() < u.notBefore {
		return ErrTokenRevoked
	}
	if !trusted && !m.failOpen {
		return ErrDenylistUnavailable
	}
	return nil
}

// trusted reports whether the lease is current.
func (m *mirror) trusted() bool {
	until := m.trustedUntil.Load()
	return until != 0 && int64(m.now().Sub(m.epoch)) < until
}

// trustFor extends the lease to d from now.
func (m *mirror) trustFor(d time.Duration) {
	m.trustedUntil.Store(int64(m.now().Sub(m.epoch) + d))
}

// distrust ends the lease at once.
func (m *mirror) distrust() { m.trustedUntil.Store(0) }

// entryFor validates r and resolves its defaults against the clock.
func (m *mirror) entryFor(r Revocation) (entry, error) {
	now := m.now()
	switch {
	case r.SessionID != "" && r.UserID != "":
		return entry{}, errors.New("denylist: revocation names both a session and a user")
	case r.SessionID != "":
		e := entry{kind: kindSession, subject: r.SessionID, notBefore: now.UnixMilli(), expires: now.Add(m.accessTTL).UnixMilli()}
		if !r.Expires.IsZero() {
			e.expires = max(e.expires, r.Expires.UnixMilli())
		}
		return e, nil
	case r.UserID != "":
		nb := r.NotBefore
		if nb.IsZero() {
			nb = now
		}
		e := entry{kind: kindUser, subject: r.UserID, notBefore: nb.UnixMilli()}
		e.expires = nb.Add(m.accessTTL).UnixMilli()
		if !r.Expires.IsZero() {
			e.expires = max(e.expires, r.Expires.UnixMilli())
		}
		return e, nil
	}
	return entry{}, errors.New("denylist: revocation names neither a session nor a user")
}

// apply adds e. Entries only grow: a user's cut-off and any expiry keep the
// later value, so messages may arrive twice or out of order.
func (m *mirror) apply(e entry) {
	m.mu.Lock()
	m.applyLocked(e)
	m.mu.Unlock()
}

// merge adds a batch, as read by a full load.
func (m *mirror) merge(es []entry) {
	m.mu.Lock()
	for _, e := range es {
		m.applyLocked(e)
	}
	m.mu.Unlock()
}

func (m *mirror) applyLocked(e entry) {
	switch e.kind {
	case kindSession:
		if cur, ok := m.sessions[e.subject]; !ok || e.expires > cur {
			m.sessions[e.subject] = e.expires
		}
	case kindUser:
		cur, ok := m.users[e.subject]
		if !ok {
			m.users[e.subject] = userCutoff{notBefore: e.notBefore, expires: e.expires}
			return
		}
		m.users[e.subject] = userCutoff{notBefore: max(cur.notBefore, e.notBefore), expires: max(cur.expires, e.expires)}
	}
}

// prune forgets entries whose expiry has passed, so the mirror holds only
// what can still matter. Until pruned, an expired entry is harmless: every
// token it covers has expired too.
func (m *mirror) prune() (removed int) {
	now := m.now().UnixMilli()
	m.mu.Lock()
	defer m.mu.Unlock()
	for sid, exp := range m.sessions {
		if exp <= now {
			delete(m.sessions, sid)
			removed++
		}
	}
	for uid, u := range m.users {
		if u.expires <= now {
			delete(m.users, uid)
			removed++
		}
	}
	return removed
}

// snapshot returns every unexpired entry, for re-seeding a store that lost
// them.
func (m *mirror) snapshot() []entry {
	now := m.now().UnixMilli()
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]entry, 0, len(m.sessions)+len(m.users))
	for sid, exp := range m.sessions {
		if exp > now {
			out = append(out, entry{kind: kindSession, subject: sid, expires: exp})
		}
	}
	for uid, u := range m.users {
		if u.expires > now {
			out = append(out, entry{kind: kindUser, subject: uid, notBefore: u.notBefore, expires: u.expires})
		}
	}
	return out
}

// size is the number of entries held, for logs and tests.
func (m *mirror) size() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.sessions) + len(m.users)
}

// The wire form of an entry, as published on the Redis channel: one line,
// the subject last so that it may hold any character.
//
//	s <expires> <sid>
//	u <notBefore> <expires> <uid>
func (e entry) message() string {
	if e.kind == kindSession {
		return "s " + strconv.FormatInt(e.expires, 10) + " " + e.subject
	}
	return "u " + strconv.FormatInt(e.notBefore, 10) + " " + strconv.FormatInt(e.expires, 10) + " " + e.subject
}

func parseMessage(s string) (entry, error) {
	kind, rest, _ := strings.Cut(s, " ")
	var e entry
	var err error
	switch kind {
	case "s":
		e.kind = kindSession
	case "u":
		e.kind = kindUser
		var nb string
		nb, rest, _ = strings.Cut(rest, " ")
		if e.notBefore, err = strconv.ParseInt(nb, 10, 64); err != nil {
			return entry{}, fmt.Errorf("denylist message: not-before: %w", err)
		}
	default:
		return entry{}, fmt.Errorf("denylist message: unknown kind %q", kind)
	}
	exp, subject, _ := strings.Cut(rest, " ")
	if e.expires, err = strconv.ParseInt(exp, 10, 64); err != nil {
		return entry{}, fmt.Errorf("denylist message: expiry: %w", err)
	}
	if subject == "" {
		return entry{}, errors.New("denylist message: no subject")
	}
	e.subject = subject
	return e, nil
}
