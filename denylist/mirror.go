package denylist

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authgate/authgate/identity"
	"github.com/authgate/authgate/internal/problem"
)

// mirror is the in-memory copy of the denylist that Check reads. Both
// stores (Redis and database) feed one; it answers without I/O.
//
// Reads take no lock: Check loads one immutable version of the content and
// looks the token up in it, so request goroutines on every core never
// contend. Writers (rare: revocations, loads, prunes) build a new version
// and swap it in. To keep a write cheap however large the list grows, a
// version is two tables: a large base, shared between versions, and a
// small recent table that each write copies; once recent holds
// recentLimit entries it is merged into a new base.
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

	state atomic.Pointer[mirrorState] // never nil
	mu    sync.Mutex                  // serialises writers
}

// recentLimit is how many entries a write may copy before they are merged
// into the base: a write costs O(recentLimit), plus O(n/recentLimit)
// amortised for the merges.
const recentLimit = 256

// mirrorState is one immutable version of the mirror's content. An entry
// may be in both tables; the stronger of the two counts.
type mirrorState struct {
	base, recent table
}

// table maps revoked sessions and cut-off users. Never modified once
// published in a mirrorState.
type table struct {
	sessions map[string]int64 // sid → expires (Unix ms)
	users    map[string]userCutoff
}

// userCutoff is the record for one user, times in Unix ms.
type userCutoff struct {
	notBefore int64
	expires   int64
}

// newMirror returns an empty, untrusted mirror. accessTTL is
// tokens.access_ttl (the loader's defaults and validation make it
// positive): how long a revocation must be kept.
func newMirror(onError string, accessTTL time.Duration) *mirror {
	m := &mirror{
		now:       time.Now,
		failOpen:  onError == OnErrorAllow, // anything else fails closed
		accessTTL: accessTTL,
	}
	m.epoch = m.now()
	m.state.Store(&mirrorState{base: newTable(0), recent: newTable(0)})
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
func (m *mirror) check(id *identity.Identity) error {
	s := m.state.Load()
	iat := id.IssuedAt.UnixMilli()
	if s.recent.revokes(id.SessionID, id.UserID, iat) || s.base.revokes(id.SessionID, id.UserID, iat) {
		return problem.ErrTokenRevoked
	}
	if !m.failOpen && !m.trusted() {
		return problem.ErrDenylistUnavailable
	}
	return nil
}

func (t table) revokes(sid, uid string, iat int64) bool {
	if _, ok := t.sessions[sid]; ok {
		return true
	}
	u, ok := t.users[uid]
	return ok && iat < u.notBefore
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
// later value, so a message may arrive twice (an instance hears its own
// revocations back) or out of order; one that adds nothing costs no copy.
func (m *mirror) apply(e entry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.state.Load()
	if s.covers(e) {
		return
	}
	if s.recent.len() >= recentLimit {
		m.state.Store(&mirrorState{base: s.merged(time.Time{}, e), recent: newTable(0)})
		return
	}
	recent := s.recent.clone(1)
	recent.add(e)
	m.state.Store(&mirrorState{base: s.base, recent: recent})
}

// merge adds a batch, as read by a full load.
func (m *mirror) merge(es []entry) {
	if len(es) == 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.state.Store(&mirrorState{base: m.state.Load().merged(time.Time{}, es...), recent: newTable(0)})
}

// prune forgets entries whose expiry has passed, so the mirror holds only
// what can still matter. Until pruned, an expired entry is harmless: every
// token it covers has expired too.
func (m *mirror) prune() (removed int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.state.Load()
	before := s.len()
	now := m.now()
	if s.expired(now.UnixMilli()) == 0 {
		return 0
	}
	next := &mirrorState{base: s.merged(now), recent: newTable(0)}
	m.state.Store(next)
	return before - next.len()
}

// snapshot returns every unexpired entry, for re-seeding a store that lost
// them.
func (m *mirror) snapshot() []entry {
	all := m.state.Load().merged(m.now())
	out := make([]entry, 0, all.len())
	for sid, exp := range all.sessions {
		out = append(out, entry{kind: kindSession, subject: sid, expires: exp})
	}
	for uid, u := range all.users {
		out = append(out, entry{kind: kindUser, subject: uid, notBefore: u.notBefore, expires: u.expires})
	}
	return out
}

// size is the number of distinct entries held, for logs and tests.
func (m *mirror) size() int { return m.state.Load().len() }

// lookup returns the effective record of a kind and subject, for tests.
func (m *mirror) lookup(kind, subject string) (userCutoff, bool) {
	all := m.state.Load().merged(time.Time{})
	if kind == kindSession {
		exp, ok := all.sessions[subject]
		return userCutoff{expires: exp}, ok
	}
	u, ok := all.users[subject]
	return u, ok
}

// covers reports whether s already holds e at least as strongly.
func (s *mirrorState) covers(e entry) bool {
	switch e.kind {
	case kindSession:
		return max(s.base.sessions[e.subject], s.recent.sessions[e.subject]) >= e.expires
	case kindUser:
		b, r := s.base.users[e.subject], s.recent.users[e.subject]
		return max(b.notBefore, r.notBefore) >= e.notBefore && max(b.expires, r.expires) >= e.expires
	}
	return true
}

// merged returns one new table holding base, recent and extra. If notAfter
// is set, entries that expire by then are left out.
func (s *mirrorState) merged(notAfter time.Time, extra ...entry) table {
	t := newTable(s.base.len() + s.recent.len() + len(extra))
	for _, src := range []table{s.base, s.recent} {
		for sid, exp := range src.sessions {
			t.add(entry{kind: kindSession, subject: sid, expires: exp})
		}
		for uid, u := range src.users {
			t.add(entry{kind: kindUser, subject: uid, notBefore: u.notBefore, expires: u.expires})
		}
	}
	for _, e := range extra {
		t.add(e)
	}
	if !notAfter.IsZero() {
		t.dropExpired(notAfter.UnixMilli())
	}
	return t
}

// len counts distinct entries.
func (s *mirrorState) len() int {
	n := s.base.len()
	for sid := range s.recent.sessions {
		if _, ok := s.base.sessions[sid]; !ok {
			n++
		}
	}
	for uid := range s.recent.users {
		if _, ok := s.base.users[uid]; !ok {
			n++
		}
	}
	return n
}

// expired counts entries (in either table) expired at now.
func (s *mirrorState) expired(now int64) int {
	return s.base.expired(now) + s.recent.expired(now)
}

func newTable(size int) table {
	return table{sessions: make(map[string]int64, size), users: make(map[string]userCutoff)}
}

func (t table) len() int { return len(t.sessions) + len(t.users) }

func (t table) clone(extra int) table {
	c := table{sessions: make(map[string]int64, len(t.sessions)+extra), users: make(map[string]userCutoff, len(t.users)+extra)}
	for k, v := range t.sessions {
		c.sessions[k] = v
	}
	for k, v := range t.users {
		c.users[k] = v
	}
	return c
}

// add merges e into t, keeping the later cut-off and expiry. Only for a
// table not yet published.
func (t table) add(e entry) {
	switch e.kind {
	case kindSession:
		t.sessions[e.subject] = max(t.sessions[e.subject], e.expires)
	case kindUser:
		cur := t.users[e.subject]
		t.users[e.subject] = userCutoff{notBefore: max(cur.notBefore, e.notBefore), expires: max(cur.expires, e.expires)}
	}
}

func (t table) dropExpired(now int64) {
	for sid, exp := range t.sessions {
		if exp <= now {
			delete(t.sessions, sid)
		}
	}
	for uid, u := range t.users {
		if u.expires <= now {
			delete(t.users, uid)
		}
	}
}

func (t table) expired(now int64) int {
	n := 0
	for _, exp := range t.sessions {
		if exp <= now {
			n++
		}
	}
	for _, u := range t.users {
		if u.expires <= now {
			n++
		}
	}
	return n
}
