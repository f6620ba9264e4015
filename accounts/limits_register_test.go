package accounts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/problem"
	"github.com/authgate/authgate/internal/testenv"
	"golang.org/x/crypto/bcrypt"
)

// hashWatch wraps a hasher's bcrypt: it counts hashes and verifications,
// tracks how many run at once, and, while held, makes each wait for
// release before it runs.
type hashWatch struct {
	hashes, compares atomic.Int64
	inflight, most   atomic.Int64
	hold             chan struct{} // nil: do not wait
}

func watchHashing(h *passwordHasher, hold bool) *hashWatch {
	w := &hashWatch{}
	if hold {
		w.hold = make(chan struct{})
	}
	h.generate = func(password []byte, cost int) ([]byte, error) {
		w.hashes.Add(1)
		defer w.enter()()
		return bcrypt.GenerateFromPassword(password, cost)
	}
	h.compare = func(hash, password []byte) error {
		w.compares.Add(1)
		defer w.enter()()
		return bcrypt.CompareHashAndPassword(hash, password)
	}
	return w
}

func (w *hashWatch) enter() (leave func()) {
	n := w.inflight.Add(1)
	for m := w.most.Load(); n > m && !w.most.CompareAndSwap(m, n); m = w.most.Load() {
	}
	if w.hold != nil {
		<-w.hold
	}
	return func() { w.inflight.Add(-1) }
}

// registerPassword is the password of the registrations in these tests.
const registerPassword = "a registration passphrase"

// answered is how the auth API answers a request whose flow returned err:
// 201 Created for nil, else the problem document internal/problem writes
// (the API's one error table), status, headers and body.
func answered(t *testing.T, err error) (*http.Response, []byte) {
	t.Helper()
	rec := httptest.NewRecorder()
	if err == nil {
		rec.WriteHeader(http.StatusCreated)
	} else {
		problem.Write(rec, httptest.NewRequest(http.MethodPost, "/auth/register", nil), err)
	}
	return rec.Result(), rec.Body.Bytes()
}

// registerFrom registers username from address ip and returns the answer
// the auth API gives it.
func registerFrom(t *testing.T, s *Service, ip, username, email string) (*http.Response, []byte) {
	t.Helper()
	_, err := s.Register(context.Background(), username, email, registerPassword, ip)
	return answered(t, err)
}

// detailOf is the detail of a problem document.
func detailOf(t *testing.T, body []byte) string {
	t.Helper()
	var p struct {
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return p.Detail
}

// wantStatus fails the test when res has another status.
func wantStatus(t *testing.T, what string, res *http.Response, body []byte, want int) {
	t.Helper()
	if res.StatusCode != want {
		t.Fatalf("%s: status %d; want %d; body %s", what, res.StatusCode, want, body)
	}
}

// TestRegisterTakenHashesNothing: a registration with a username or email
// that is taken is refused (409) before any password is hashed, so
// re-registering an existing name costs no bcrypt.
func TestRegisterTakenHashesNothing(t *testing.T) {
	for name, newURL := range testenv.Databases() {
		t.Run(name, func(t *testing.T) {
			s := newTestService(t, testSections(newURL(t)))
			w := watchHashing(s.users.hasher, false)
			res, body := registerFrom(t, s, "192.0.2.10", "alice", "alice@example.com")
			wantStatus(t, "register alice", res, body, http.StatusCreated)
			if n := w.hashes.Load(); n != 1 {
				t.Fatalf("registering alice hashed %d times; want 1", n)
			}
			for _, tt := range []struct{ name, username, email, detail string }{
				{"fail-username", "alice", "other@example.com", "Username already registered"},
				{"fail-username-other-spelling", "ALICE", "other@example.com", "Username already registered"},
				{"fail-email", "alicia", "Alice@Example.com", "Email already registered"},
				{"fail-both", "alice", "alice@example.com", "Username already registered"},
			} {
				res, body := registerFrom(t, s, "192.0.2.10", tt.username, tt.email)
				wantStatus(t, tt.name, res, body, http.StatusConflict)
				if d := detailOf(t, body); d != tt.detail {
					t.Errorf("%s: detail %q; want %q", tt.name, d, tt.detail)
				}
			}
			if n := w.hashes.Load(); n != 1 {
				t.Errorf("refused registrations hashed %d passwords; want none", n-1)
			}
		})
	}
}

// TestHashingIsBounded: however many registrations and logins arrive at
// once, no more password hashes run at the same time than the bound; the
// others queue, and one that cannot get a slot before its deadline is
// answered 503.
func TestHashingIsBounded(t *testing.T) {
	const bound = 2
	// The flood's calls have no deadline: they wait for the test.
	s := newTestServiceWith(t, testSections(testenv.SQLiteURL(t)), func(s *Service) {
		s.users.hasher.slots = newHashSlots(bound)
	})
	res, body := registerFrom(t, s, "192.0.2.1", "olga", "olga@example.com")
	wantStatus(t, "register olga", res, body, http.StatusCreated)
	w := watchHashing(s.users.hasher, true)

	const registrations, logins = 6, 4
	var wg sync.WaitGroup
	statuses := make(chan string, registrations+logins)
	for i := range registrations {
		wg.Go(func() {
			ip := fmt.Sprintf("198.51.100.%d", i+1) // one each: no address limit in the way
			name := fmt.Sprintf("flood%d", i)
			res, body := registerFrom(t, s, ip, name, name+"@example.com")
			statuses <- fmt.Sprintf("register %d %s", res.StatusCode, body)
		})
	}
	for i := range logins {
		wg.Go(func() {
			_, err := s.Login(context.Background(), "olga", "not her passphrase", fmt.Sprintf("203.0.113.%d", i+1))
			statuses <- fmt.Sprintf("login %v", err)
		})
	}
	// Every request is either hashing or queued for a slot: if the bound
	// did not hold, more than bound would be hashing now.
	testenv.WaitFor(t, "the flood to fill the hashing slots and queue", func() bool {
		return w.inflight.Load()+s.users.hasher.slots.waiting.Load() == registrations+logins
	})
	if n := w.inflight.Load(); n != bound {
		close(w.hold)
		wg.Wait()
		t.Fatalf("%d hashes running at once; want the bound, %d", n, bound)
	}

	// While every slot is taken, a request whose deadline passes first is
	// answered 503 with Retry-After, not left hanging.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	_, err := s.Login(ctx, "olga", registerPassword, "192.0.2.1")
	cancel()
	res, body = answered(t, err)
	wantStatus(t, "login while hashing is at capacity", res, body, http.StatusServiceUnavailable)
	if res.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}

	close(w.hold)
	wg.Wait()
	close(statuses)
	for st := range statuses {
		if !strings.HasPrefix(st, "register 201") && st != "login "+problem.ErrInvalidCredentials.Error() {
			t.Errorf("after the flood: %s; want 201 for registrations and wrong-password for logins", st)
		}
	}
	if m := w.most.Load(); m > bound {
		t.Errorf("at most %d hashes ran at once; want at most %d", m, bound)
	}
}

// TestRegisterRateLimit: registrations count per client address
// (auth_api.register_limit); beyond it 429 with Retry-After, whatever the
// earlier attempts' outcome, while other addresses go on.
func TestRegisterRateLimit(t *testing.T) {
	s := sqliteService(t, func(c *Sections) { c.RegisterLimit = "3/hour" })
	const ip = "192.0.2.20"
	res, body := registerFrom(t, s, ip, "first", "first@example.com")
	wantStatus(t, "1st registration", res, body, http.StatusCreated)
	res, body = registerFrom(t, s, ip, "first", "again@example.com")
	wantStatus(t, "2nd registration (name taken)", res, body, http.StatusConflict)
	res, body = registerFrom(t, s, ip, "second", "second@example.com")
	wantStatus(t, "3rd registration", res, body, http.StatusCreated)

	res, body = registerFrom(t, s, ip, "third", "third@example.com")
	wantStatus(t, "4th registration from one address", res, body, http.StatusTooManyRequests)
	retry, err := strconv.Atoi(res.Header.Get("Retry-After"))
	if err != nil || retry < 1 || retry > 3600 {
		t.Errorf("Retry-After %q; want 1 to 3600 seconds", res.Header.Get("Retry-After"))
	}
	if d := detailOf(t, body); !strings.Contains(d, "registrations") {
		t.Errorf("429 detail %q; want it to say registrations", d)
	}
	if _, err := s.users.ByUsername(context.Background(), "third"); !errors.Is(err, problem.ErrNotFound) {
		t.Errorf("the throttled registration created an account (%v)", err)
	}
	// IPv6 addresses count by their /64.
	for i, ip6 := range []string{"2001:db8:1:2::a", "2001:db8:1:2::b", "2001:db8:1:2:ffff::1"} {
		name := fmt.Sprintf("six%d", i)
		res, body := registerFrom(t, s, ip6, name, name+"@example.com")
		wantStatus(t, "registration from "+ip6, res, body, http.StatusCreated)
	}
	res, body = registerFrom(t, s, "2001:db8:1:2::c", "six3", "six3@example.com")
	wantStatus(t, "4th registration from one /64", res, body, http.StatusTooManyRequests)
	res, body = registerFrom(t, s, "192.0.2.21", "other", "other@example.com")
	wantStatus(t, "registration from another address", res, body, http.StatusCreated)
}

// TestRegisterConcurrencyPerAddress: at most register_limit registrations
// from one address are in progress at once; the rest wait, and find the
// count taken when they get their turn, so a burst cannot get past the
// count before it is taken.
func TestRegisterConcurrencyPerAddress(t *testing.T) {
	const limit, ip = 2, "192.0.2.30"
	s := sqliteService(t, func(c *Sections) { c.RegisterLimit = fmt.Sprintf("%d/hour", limit) })
	s.users.hasher.slots = newHashSlots(10)
	w := watchHashing(s.users.hasher, true)
	const burst = 5
	var admitted, throttled atomic.Int64
	var wg sync.WaitGroup
	for i := range burst {
		wg.Go(func() {
			name := fmt.Sprintf("burst%d", i)
			_, err := s.Register(context.Background(), name, name+"@example.com", registerPassword, ip)
			var te *problem.ThrottledError
			switch {
			case err == nil:
				admitted.Add(1)
			case errors.As(err, &te):
				throttled.Add(1)
			default:
				t.Errorf("Register(%s) = %v; want success or throttled", name, err)
			}
		})
	}
	// Every registration of the burst holds or waits for the address's
	// slots: if the gate did not hold, more than limit would be hashing.
	key := RegisterThrottleKey(ip)
	testenv.WaitFor(t, "the burst to reach the address's gate", func() bool {
		s.registering.mu.Lock()
		defer s.registering.mu.Unlock()
		slots := s.registering.slots[key]
		return slots != nil && slots.refs == burst && w.inflight.Load() == limit
	})
	close(w.hold)
	wg.Wait()
	if m := w.most.Load(); m > limit {
		t.Errorf("%d registrations from one address hashed at once; want at most %d", m, limit)
	}
	if a, th := admitted.Load(), throttled.Load(); a != limit || th != burst-limit {
		t.Errorf("of a burst of %d, %d went through and %d were throttled; want %d and %d", burst, a, th, limit, burst-limit)
	}
}

// TestRegisterLimitConfig: the limit must be a rate (its default, when
// unset, is the auth_api section's: authn.TestRegisterLimitDefault).
func TestRegisterLimitConfig(t *testing.T) {
	cfg := testSections(testenv.SQLiteURL(t))
	cfg.RegisterLimit = "lots"
	_, err := Open(context.Background(), cfg, Options{Logger: testenv.Logger(t), DataDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "auth_api.register_limit") {
		t.Errorf("Open(register_limit: lots) = %v; want an auth_api.register_limit problem", err)
	}
}
