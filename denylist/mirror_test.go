package denylist

import (
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/identity"
	"github.com/authgate/authgate/internal/problem"
	"github.com/authgate/authgate/internal/testenv"
)

// setClock makes m read c, with the trust lease measured on c too.
func (m *mirror) setClock(c *testenv.Clock) {
	m.now = c.Now
	m.epoch = c.Now()
}

// The instant of the examples in the design: logout-all at 12:00:00.400.
var cutoffAt = time.Date(2026, 1, 1, 12, 0, 0, 400_000_000, time.UTC)

func at(hms string) time.Time {
	t, err := time.Parse("15:04:05.000", hms)
	if err != nil {
		panic(err)
	}
	return time.Date(2026, 1, 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

func TestMirrorCheck(t *testing.T) {
	clock := testenv.NewClock(cutoffAt)
	m := newMirror(OnErrorDeny, 15*time.Minute)
	m.setClock(clock)
	m.trustFor(time.Hour)
	for _, r := range []Revocation{
		{SessionID: "sid-revoked"},
		{UserID: "42", NotBefore: cutoffAt},
	} {
		e, err := m.entryFor(r)
		if err != nil {
			t.Fatal(err)
		}
		m.apply(e)
	}
	tests := []struct {
		name string
		id   identity.Identity
		want error
	}{
		{"ok-live-session", identity.Identity{UserID: "7", SessionID: "sid-live", IssuedAt: at("12:00:00.000")}, nil},
		{"fail-revoked-session", identity.Identity{UserID: "7", SessionID: "sid-revoked", IssuedAt: at("12:00:00.000")}, problem.ErrTokenRevoked},
		{"fail-revoked-session-issued-after", identity.Identity{UserID: "7", SessionID: "sid-revoked", IssuedAt: at("12:05:00.000")}, problem.ErrTokenRevoked},
		{"fail-cutoff-earlier-second", identity.Identity{UserID: "42", SessionID: "a", IssuedAt: at("11:59:59.900")}, problem.ErrTokenRevoked},
		// Issued at .100, before logout-all at .400, same second.
		{"fail-cutoff-same-second-before", identity.Identity{UserID: "42", SessionID: "a", IssuedAt: at("12:00:00.100")}, problem.ErrTokenRevoked},
		// Logged in again at .600: must not be locked out.
		{"ok-cutoff-same-second-after", identity.Identity{UserID: "42", SessionID: "b", IssuedAt: at("12:00:00.600")}, nil},
		{"ok-cutoff-exact-instant", identity.Identity{UserID: "42", SessionID: "b", IssuedAt: at("12:00:00.400")}, nil},
		// Whole-second iat cannot say which side of .400 it was minted on:
		// it is rejected (fail safe), as documented on mirror.check.
		{"fail-cutoff-whole-second-iat-same-second", identity.Identity{UserID: "42", SessionID: "b", IssuedAt: at("12:00:00.000")}, problem.ErrTokenRevoked},
		{"ok-cutoff-whole-second-iat-next-second", identity.Identity{UserID: "42", SessionID: "b", IssuedAt: at("12:00:01.000")}, nil},
		{"ok-other-user", identity.Identity{UserID: "43", SessionID: "c", IssuedAt: at("11:00:00.000")}, nil},
		{"ok-no-session-id", identity.Identity{UserID: "43", IssuedAt: at("11:00:00.000")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := identity.New(tt.id)
			if got := m.check(id); !errors.Is(got, tt.want) || (got == nil) != (tt.want == nil) {
				t.Errorf("Check(%s, iat %s) = %v; want %v", tt.id.SessionID, tt.id.IssuedAt.Format("15:04:05.000"), got, tt.want)
			}
		})
	}
}

func TestMirrorTrust(t *testing.T) {
	clock := testenv.NewClock(cutoffAt)
	live := identity.New(identity.Identity{UserID: "1", SessionID: "live", IssuedAt: cutoffAt})
	revoked := identity.New(identity.Identity{UserID: "1", SessionID: "gone", IssuedAt: cutoffAt})
	tests := []struct {
		name    string
		onError string
		trust   func(m *mirror)
		id      *identity.Identity
		want    error
	}{
		{"fail-untrusted-deny", OnErrorDeny, func(*mirror) {}, live, problem.ErrDenylistUnavailable},
		{"fail-untrusted-unknown-policy-denies", "", func(*mirror) {}, live, problem.ErrDenylistUnavailable},
		{"ok-untrusted-allow", OnErrorAllow, func(*mirror) {}, live, nil},
		{"fail-untrusted-deny-known-revoked", OnErrorDeny, func(*mirror) {}, revoked, problem.ErrTokenRevoked},
		{"fail-untrusted-allow-known-revoked", OnErrorAllow, func(*mirror) {}, revoked, problem.ErrTokenRevoked},
		{"ok-trusted", OnErrorDeny, func(m *mirror) { m.trustFor(time.Second) }, live, nil},
		{"fail-lease-lapsed", OnErrorDeny, func(m *mirror) { m.trustFor(time.Second); clock.Add(time.Second) }, live, problem.ErrDenylistUnavailable},
		{"fail-distrusted", OnErrorDeny, func(m *mirror) { m.trustFor(time.Hour); m.distrust() }, live, problem.ErrDenylistUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMirror(tt.onError, time.Minute)
			m.setClock(clock)
			e, _ := m.entryFor(Revocation{SessionID: "gone"})
			m.apply(e)
			tt.trust(m)
			if got := m.check(tt.id); !errors.Is(got, tt.want) || (got == nil) != (tt.want == nil) {
				t.Errorf("Check(%s) = %v; want %v", tt.id.SessionID, got, tt.want)
			}
		})
	}
}

func TestMirrorEntryFor(t *testing.T) {
	now := cutoffAt
	ttl := 15 * time.Minute
	ms := func(t time.Time) int64 { return t.UnixMilli() }
	tests := []struct {
		name    string
		r       Revocation
		want    entry
		wantErr bool
	}{
		{"ok-session-default-expiry", Revocation{SessionID: "s"},
			entry{kindSession, "s", ms(now), ms(now.Add(ttl))}, false},
		{"ok-session-longer-expiry-kept", Revocation{SessionID: "s", Expires: now.Add(time.Hour)},
			entry{kindSession, "s", ms(now), ms(now.Add(time.Hour))}, false},
		{"ok-session-shorter-expiry-raised", Revocation{SessionID: "s", Expires: now.Add(time.Second)},
			entry{kindSession, "s", ms(now), ms(now.Add(ttl))}, false},
		{"ok-user-not-before-defaults-to-now", Revocation{UserID: "u"},
			entry{kindUser, "u", ms(now), ms(now.Add(ttl))}, false},
		{"ok-user-past-cutoff-expires-from-cutoff", Revocation{UserID: "u", NotBefore: now.Add(-time.Minute)},
			entry{kindUser, "u", ms(now.Add(-time.Minute)), ms(now.Add(ttl - time.Minute))}, false},
		{"ok-user-shorter-expiry-raised", Revocation{UserID: "u", NotBefore: now, Expires: now},
			entry{kindUser, "u", ms(now), ms(now.Add(ttl))}, false},
		{"fail-both", Revocation{SessionID: "s", UserID: "u"}, entry{}, true},
		{"fail-neither", Revocation{NotBefore: now}, entry{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMirror(OnErrorDeny, ttl)
			m.setClock(testenv.NewClock(now))
			got, err := m.entryFor(tt.r)
			if (err != nil) != tt.wantErr {
				t.Fatalf("entryFor(%+v) error = %v; wantErr %v", tt.r, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("entryFor(%+v) = %+v; want %+v", tt.r, got, tt.want)
			}
		})
	}
}

func TestMirrorEntriesOnlyGrow(t *testing.T) {
	m := newMirror(OnErrorDeny, time.Minute)
	m.apply(entry{kind: kindUser, subject: "u", notBefore: 2000, expires: 9000})
	m.apply(entry{kind: kindUser, subject: "u", notBefore: 1000, expires: 5000}) // late, older message
	m.apply(entry{kind: kindSession, subject: "s", expires: 9000})
	m.apply(entry{kind: kindSession, subject: "s", expires: 5000})
	if got, _ := m.lookup(kindUser, "u"); got != (userCutoff{notBefore: 2000, expires: 9000}) {
		t.Errorf("user cut-off after an older message = %+v; want {2000 9000}", got)
	}
	if got, _ := m.lookup(kindSession, "s"); got.expires != 9000 {
		t.Errorf("session expiry after an older message = %d; want 9000", got.expires)
	}
	m.apply(entry{kind: kindUser, subject: "u", notBefore: 3000, expires: 10000})
	if got, _ := m.lookup(kindUser, "u"); got != (userCutoff{notBefore: 3000, expires: 10000}) {
		t.Errorf("user cut-off after a later one = %+v; want {3000 10000}", got)
	}
	if got := m.size(); got != 2 {
		t.Errorf("size() = %d; want 2", got)
	}
}

// TestMirrorManyEntries crosses the recent table's limit several times, so
// that entries live in both tables of a version.
func TestMirrorManyEntries(t *testing.T) {
	clock := testenv.NewClock(cutoffAt)
	m := newMirror(OnErrorDeny, time.Minute)
	m.setClock(clock)
	const n = 3*recentLimit + 7
	for i := range n {
		m.apply(entry{kind: kindSession, subject: "s" + strconv.Itoa(i), expires: cutoffAt.Add(time.Minute).UnixMilli()})
		m.apply(entry{kind: kindUser, subject: strconv.Itoa(i), notBefore: cutoffAt.UnixMilli(), expires: cutoffAt.Add(time.Minute).UnixMilli()})
	}
	// A cut-off raised while the user's first entry sits in the base.
	m.apply(entry{kind: kindUser, subject: "0", notBefore: cutoffAt.Add(time.Second).UnixMilli(), expires: cutoffAt.Add(time.Minute).UnixMilli()})
	if got := m.size(); got != 2*n {
		t.Fatalf("size() = %d; want %d", got, 2*n)
	}
	for i := range n {
		sid, uid := "s"+strconv.Itoa(i), strconv.Itoa(i)
		if got := m.check(identity.New(identity.Identity{SessionID: sid})); got != problem.ErrTokenRevoked {
			t.Fatalf("Check(session %s) = %v; want %v", sid, got, problem.ErrTokenRevoked)
		}
		if got := m.check(identity.New(identity.Identity{UserID: uid, IssuedAt: cutoffAt.Add(-time.Millisecond)})); got != problem.ErrTokenRevoked {
			t.Fatalf("Check(user %s before cut-off) = %v; want %v", uid, got, problem.ErrTokenRevoked)
		}
	}
	if got := m.check(identity.New(identity.Identity{UserID: "0", IssuedAt: cutoffAt.Add(500 * time.Millisecond)})); got != problem.ErrTokenRevoked {
		t.Errorf("Check(user 0 before the raised cut-off) = %v; want %v", got, problem.ErrTokenRevoked)
	}
	if got := m.check(identity.New(identity.Identity{UserID: "1", IssuedAt: cutoffAt.Add(500 * time.Millisecond)})); got != problem.ErrDenylistUnavailable {
		t.Errorf("Check(user 1 after its cut-off, untrusted) = %v; want %v", got, problem.ErrDenylistUnavailable)
	}
	before := m.state.Load()
	m.apply(entry{kind: kindSession, subject: "s1", expires: 1}) // adds nothing
	if m.state.Load() != before {
		t.Error("apply(entry already covered) published a new version; want none")
	}
	clock.Add(time.Minute)
	if got := m.prune(); got != 2*n {
		t.Errorf("prune() = %d; want %d", got, 2*n)
	}
}

// TestMirrorConcurrent: readers never block on writers, and see a
// revocation once apply has returned (run under -race).
func TestMirrorConcurrent(t *testing.T) {
	m := newMirror(OnErrorAllow, time.Minute)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := identity.New(identity.Identity{UserID: "u", SessionID: "s5"})
			for {
				select {
				case <-stop:
					return
				default:
					_ = m.check(id)
				}
			}
		}()
	}
	for i := range 2 * recentLimit {
		sid := "s" + strconv.Itoa(i)
		m.apply(entry{kind: kindSession, subject: sid, expires: 1 << 62})
		if got := m.check(identity.New(identity.Identity{SessionID: sid})); got != problem.ErrTokenRevoked {
			t.Fatalf("Check(%s) after apply = %v; want %v", sid, got, problem.ErrTokenRevoked)
		}
	}
	close(stop)
	wg.Wait()
}

func TestMirrorPrune(t *testing.T) {
	clock := testenv.NewClock(cutoffAt)
	m := newMirror(OnErrorAllow, time.Minute)
	m.setClock(clock)
	for _, r := range []Revocation{
		{SessionID: "short"},
		{SessionID: "long", Expires: cutoffAt.Add(time.Hour)},
		{UserID: "short"},
		{UserID: "long", NotBefore: cutoffAt.Add(30 * time.Minute)},
	} {
		e, err := m.entryFor(r)
		if err != nil {
			t.Fatal(err)
		}
		m.apply(e)
	}
	if n := m.prune(); n != 0 {
		t.Fatalf("prune() before any expiry removed %d; want 0", n)
	}
	clock.Add(time.Minute) // the 1-minute entries expire exactly now
	if n := m.prune(); n != 2 {
		t.Errorf("prune() after a minute removed %d; want 2", n)
	}
	if got := m.size(); got != 2 {
		t.Errorf("size() = %d; want 2", got)
	}
	if got := m.check(identity.New(identity.Identity{UserID: "x", SessionID: "long"})); !errors.Is(got, problem.ErrTokenRevoked) {
		t.Errorf("Check(long) after prune = %v; want %v", got, problem.ErrTokenRevoked)
	}
	if got := len(m.snapshot()); got != 2 {
		t.Errorf("len(snapshot()) = %d; want 2", got)
	}
	clock.Add(2 * time.Hour)
	m.prune()
	if got := m.size(); got != 0 {
		t.Errorf("size() after everything expired = %d; want 0", got)
	}
}

func TestMirrorCheckDoesNotAllocate(t *testing.T) {
	m := newMirror(OnErrorDeny, time.Minute)
	for i := range 1000 {
		m.apply(entry{kind: kindSession, subject: "sid-" + strconv.Itoa(i), expires: 1 << 62})
		m.apply(entry{kind: kindUser, subject: strconv.Itoa(i), notBefore: cutoffAt.UnixMilli(), expires: 1 << 62})
	}
	ids := map[string]*identity.Identity{
		"revoked-session": identity.New(identity.Identity{UserID: "5000", SessionID: "sid-7", IssuedAt: cutoffAt}),
		"revoked-user":    identity.New(identity.Identity{UserID: "7", SessionID: "x", IssuedAt: cutoffAt.Add(-time.Second)}),
		"live":            identity.New(identity.Identity{UserID: "7", SessionID: "x", IssuedAt: cutoffAt.Add(time.Second)}),
	}
	for _, trusted := range []bool{true, false} {
		if trusted {
			m.trustFor(time.Hour)
		} else {
			m.distrust()
		}
		for name, id := range ids {
			if n := testing.AllocsPerRun(1000, func() { _ = m.check(id) }); n != 0 {
				t.Errorf("Check(%s) with trusted=%v allocates %v times per call; want 0", name, trusted, n)
			}
		}
	}
}

func TestParseMessage(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    entry
		wantErr bool
	}{
		{"ok-session", "s 1700000000123 abc", entry{kind: kindSession, subject: "abc", expires: 1700000000123}, false},
		{"ok-user", "u 1700000000000 1700000900000 42", entry{kind: kindUser, subject: "42", notBefore: 1700000000000, expires: 1700000900000}, false},
		{"ok-subject-with-space", "s 5 a b", entry{kind: kindSession, subject: "a b", expires: 5}, false},
		{"fail-empty", "", entry{}, true},
		{"fail-kind", "x 1 a", entry{}, true},
		{"fail-expiry", "s soon a", entry{}, true},
		{"fail-no-subject", "s 5", entry{}, true},
		{"fail-user-not-before", "u x 5 a", entry{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseMessage(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseMessage(%q) error = %v; wantErr %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("parseMessage(%q) = %+v; want %+v", tt.in, got, tt.want)
			}
			if !tt.wantErr {
				if back, _ := parseMessage(got.message()); back != got {
					t.Errorf("parseMessage(message()) = %+v; want %+v", back, got)
				}
			}
		})
	}
}

func BenchmarkDenylistCheck(b *testing.B) {
	m := newMirror(OnErrorDeny, time.Minute)
	for i := range 10_000 {
		m.apply(entry{kind: kindSession, subject: "sid-" + strconv.Itoa(i), expires: 1 << 62})
		m.apply(entry{kind: kindUser, subject: strconv.Itoa(i), notBefore: cutoffAt.UnixMilli(), expires: 1 << 62})
	}
	m.trustFor(time.Hour)
	id := identity.New(identity.Identity{UserID: "20000", SessionID: "live-session-id", IssuedAt: cutoffAt})
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := m.check(id); err != nil {
				b.Fatal(err)
			}
		}
	})
}
