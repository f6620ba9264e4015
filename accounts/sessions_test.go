package accounts

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/problem"
	"github.com/authgate/authgate/internal/testenv"
	"github.com/authgate/authgate/store"
)

// sessionsFixture is a database with one user and a session store on it.
type sessionsFixture struct {
	db     *store.DB
	s      *Sessions
	userID int64
}

func newSessionsFixture(t *testing.T, url string, ttl time.Duration) *sessionsFixture {
	t.Helper()
	db := openAccountsDB(t, url)
	u := newTestUsers(t, db, Config{})
	user := mustRegister(t, u, "alice", "alice@example.com", "correct horse battery")
	s, err := NewSessions(db, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return &sessionsFixture{db: db, s: s, userID: user.ID}
}

// liveTokens returns the hashes of the unused refresh tokens of sid.
func (f *sessionsFixture) liveTokens(t *testing.T, sid string) []string {
	t.Helper()
	var hashes []string
	if err := f.db.Select(&hashes, f.db.Rebind(`SELECT token_hash FROM refresh_tokens WHERE session_id = ? AND used_at IS NULL`), sid); err != nil {
		t.Fatal(err)
	}
	return hashes
}

func (f *sessionsFixture) revoked(t *testing.T, sid string) bool {
	t.Helper()
	var n int
	if err := f.db.Get(&n, f.db.Rebind(`SELECT COUNT(*) FROM sessions WHERE id = ? AND revoked_at IS NOT NULL`), sid); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func TestNewSessionsConfig(t *testing.T) {
	db := openAccountsDB(t, testenv.SQLiteURL(t))
	if _, err := NewSessions(db, 0); err == nil || !strings.Contains(err.Error(), "tokens.refresh_ttl") {
		t.Errorf("NewSessions(ttl 0) = %v; want an error at tokens.refresh_ttl", err)
	}
	if _, err := NewSessions(nil, time.Hour); err == nil {
		t.Error("NewSessions(nil DB) = nil error; want one")
	}
}

func TestSessionRotateAndReuse(t *testing.T) {
	for name, newURL := range testenv.Databases() {
		t.Run(name, func(t *testing.T) {
			f := newSessionsFixture(t, newURL(t), 24*time.Hour)
			ctx := context.Background()
			start := time.Date(2031, 1, 1, 12, 0, 0, 0, time.UTC)
			now, advance := accountsClock(start)
			f.s.now = now

			sid, t0, expires, err := f.s.Create(ctx, f.userID, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(sid) < 22 || !strings.HasPrefix(t0, RefreshTokenPrefix) || len(t0) != len(RefreshTokenPrefix)+43 {
				t.Errorf("Create() = sid %q, token %q; want a 128-bit sid and agr_ + 43 characters", sid, t0)
			}
			if want := start.Add(24 * time.Hour); !expires.Equal(want) {
				t.Errorf("Create() expires %v; want %v", expires, want)
			}
			if got := f.liveTokens(t, sid); len(got) != 1 || got[0] != refreshTokenHash(t0) {
				t.Errorf("stored tokens = %v; want only the SHA-256 of the token", got)
			}
			if gotSID, gotUser, err := f.s.Lookup(ctx, t0); err != nil || gotSID != sid || gotUser != f.userID {
				t.Errorf("Lookup(t0) = %q, %d, %v; want %q, %d", gotSID, gotUser, err, sid, f.userID)
			}

			advance(time.Hour)
			r1, err := f.s.Rotate(ctx, t0, "")
			if err != nil {
				t.Fatalf("Rotate(t0) = %v; want success", err)
			}
			// Absolute expiry: rotation does not extend the session.
			if r1.SessionID != sid || r1.UserID != f.userID || !r1.Expires.Equal(expires) || r1.RefreshToken == t0 {
				t.Errorf("Rotate(t0) = %+v; want session %q, user %d, expires %v, a new token", r1, sid, f.userID, expires)
			}
			if got := f.liveTokens(t, sid); len(got) != 1 || got[0] != refreshTokenHash(r1.RefreshToken) {
				t.Errorf("live tokens after rotate = %v; want only the new one", got)
			}
			r2, err := f.s.Rotate(ctx, r1.RefreshToken, "")
			if err != nil {
				t.Fatalf("Rotate(t1) = %v; want success", err)
			}

			// t0 again: reuse. The session is revoked and the error says which.
			_, err = f.s.Rotate(ctx, t0, "")
			var reuse *ReuseError
			if !errors.Is(err, problem.ErrRefreshReused) || !errors.As(err, &reuse) || reuse.SessionID != sid || reuse.UserID != f.userID {
				t.Fatalf("Rotate(used t0) = %v; want *ReuseError{%q, %d}", err, sid, f.userID)
			}
			if !f.revoked(t, sid) {
				t.Error("session not revoked after reuse")
			}
			if _, err := f.s.Rotate(ctx, r2.RefreshToken, ""); !errors.Is(err, problem.ErrInvalidRefreshToken) {
				t.Errorf("Rotate(live token of revoked session) = %v; want problem.ErrInvalidRefreshToken", err)
			}
			// Logout with a token of the ended session still names it.
			if gotSID, _, err := f.s.Lookup(ctx, t0); err != nil || gotSID != sid {
				t.Errorf("Lookup(used token) = %q, %v; want %q", gotSID, err, sid)
			}
		})
	}
}

func TestSessionRotateInvalid(t *testing.T) {
	for name, newURL := range testenv.Databases() {
		t.Run(name, func(t *testing.T) {
			f := newSessionsFixture(t, newURL(t), time.Hour)
			ctx := context.Background()
			start := time.Date(2031, 1, 1, 12, 0, 0, 0, time.UTC)
			now, advance := accountsClock(start)
			f.s.now = now
			_, live, _, err := f.s.Create(ctx, f.userID, nil)
			if err != nil {
				t.Fatal(err)
			}
			tests := []struct {
				name  string
				token string
			}{
				{name: "fail-empty", token: ""},
				{name: "fail-unknown", token: RefreshTokenPrefix + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
				{name: "fail-no-prefix", token: strings.TrimPrefix(live, RefreshTokenPrefix)},
				{name: "fail-jwt", token: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln"},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					if _, err := f.s.Rotate(ctx, tt.token, ""); !errors.Is(err, problem.ErrInvalidRefreshToken) {
						t.Errorf("Rotate(%q) = %v; want problem.ErrInvalidRefreshToken", tt.token, err)
					}
					if _, _, err := f.s.Lookup(ctx, tt.token); !errors.Is(err, problem.ErrInvalidRefreshToken) {
						t.Errorf("Lookup(%q) = %v; want problem.ErrInvalidRefreshToken", tt.token, err)
					}
				})
			}
			t.Run("fail-expired", func(t *testing.T) {
				advance(time.Hour)
				if _, err := f.s.Rotate(ctx, live, ""); !errors.Is(err, problem.ErrInvalidRefreshToken) {
					t.Errorf("Rotate(token at expiry) = %v; want problem.ErrInvalidRefreshToken", err)
				}
				if _, _, err := f.s.Lookup(ctx, live); !errors.Is(err, problem.ErrInvalidRefreshToken) {
					t.Errorf("Lookup(expired) = %v; want problem.ErrInvalidRefreshToken", err)
				}
			})
			t.Run("fail-unknown-user", func(t *testing.T) {
				if _, _, _, err := f.s.Create(ctx, 424242, nil); !errors.Is(err, problem.ErrNotFound) {
					t.Errorf("Create(unknown user) = %v; want problem.ErrNotFound", err)
				}
			})
		})
	}
}

func TestSessionRevoke(t *testing.T) {
	for name, newURL := range testenv.Databases() {
		t.Run(name, func(t *testing.T) {
			f := newSessionsFixture(t, newURL(t), time.Hour)
			ctx := context.Background()
			sidA, tokA, _, err := f.s.Create(ctx, f.userID, nil)
			if err != nil {
				t.Fatal(err)
			}
			sidB, tokB, _, err := f.s.Create(ctx, f.userID, nil)
			if err != nil {
				t.Fatal(err)
			}
			sidC, tokC, _, err := f.s.Create(ctx, f.userID, nil)
			if err != nil {
				t.Fatal(err)
			}

			uid, err := f.s.Revoke(ctx, sidA)
			if err != nil || uid != f.userID {
				t.Fatalf("Revoke(A) = %d, %v; want %d", uid, err, f.userID)
			}
			if _, err := f.s.Rotate(ctx, tokA, ""); !errors.Is(err, problem.ErrInvalidRefreshToken) {
				t.Errorf("Rotate(token of revoked A) = %v; want problem.ErrInvalidRefreshToken", err)
			}
			if uid, err := f.s.Revoke(ctx, sidA); err != nil || uid != f.userID {
				t.Errorf("Revoke(A) again = %d, %v; want %d, nil", uid, err, f.userID)
			}
			if _, err := f.s.Revoke(ctx, "no-such-session"); !errors.Is(err, problem.ErrNotFound) {
				t.Errorf("Revoke(unknown) = %v; want problem.ErrNotFound", err)
			}

			// Everywhere: B and C, not A again (already ended).
			sids, err := f.s.RevokeUser(ctx, f.userID)
			if err != nil {
				t.Fatal(err)
			}
			if len(sids) != 2 || !(sids[0] == sidB && sids[1] == sidC || sids[0] == sidC && sids[1] == sidB) {
				t.Errorf("RevokeUser() = %v; want [%s %s] in any order", sids, sidB, sidC)
			}
			for _, tok := range []string{tokB, tokC} {
				if _, err := f.s.Rotate(ctx, tok, ""); !errors.Is(err, problem.ErrInvalidRefreshToken) {
					t.Errorf("Rotate after RevokeUser = %v; want problem.ErrInvalidRefreshToken", err)
				}
			}
			if sids, err := f.s.RevokeUser(ctx, f.userID); err != nil || len(sids) != 0 {
				t.Errorf("RevokeUser() again = %v, %v; want none", sids, err)
			}
		})
	}
}

// Twenty refreshes with one token at once: exactly one wins. The others
// are reuse (the session is then revoked, the winner's new token with it)
// or, arriving after the revocation, an invalid token.
func TestSessionRotateConcurrent(t *testing.T) {
	for name, newURL := range testenv.Databases() {
		t.Run(name, func(t *testing.T) {
			f := newSessionsFixture(t, newURL(t), time.Hour)
			ctx := context.Background()
			sid, tok, _, err := f.s.Create(ctx, f.userID, nil)
			if err != nil {
				t.Fatal(err)
			}
			const n = 20
			warmPool(t, f.db, n)
			var (
				wg      sync.WaitGroup
				start   = make(chan struct{})
				results = make([]Rotation, n)
				errs    = make([]error, n)
			)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					results[i], errs[i] = f.s.Rotate(ctx, tok, "")
				}()
			}
			close(start)
			wg.Wait()
			var wins, reused, invalid int
			var winner Rotation
			for i, err := range errs {
				switch {
				case err == nil:
					wins++
					winner = results[i]
				case errors.Is(err, problem.ErrRefreshReused):
					reused++
				case errors.Is(err, problem.ErrInvalidRefreshToken):
					invalid++
				default:
					t.Errorf("Rotate #%d = %v; want success, problem.ErrRefreshReused or problem.ErrInvalidRefreshToken", i, err)
				}
			}
			if wins != 1 || reused == 0 || wins+reused+invalid != n {
				t.Fatalf("%d concurrent Rotates: %d won, %d reuse, %d invalid; want exactly 1 win and at least one reuse", n, wins, reused, invalid)
			}
			if !f.revoked(t, sid) {
				t.Error("session not revoked after concurrent reuse")
			}
			if _, err := f.s.Rotate(ctx, winner.RefreshToken, ""); !errors.Is(err, problem.ErrInvalidRefreshToken) {
				t.Errorf("Rotate(winner's token) = %v; want problem.ErrInvalidRefreshToken (session revoked)", err)
			}
		})
	}
}

// warmPool opens n connections at once and returns them to the pool, so
// that n goroutines starting together really run together instead of
// queueing behind connection set-up.
func warmPool(t *testing.T, db *store.DB, n int) {
	t.Helper()
	conns := make([]interface{ Close() error }, 0, n)
	for range n {
		c, err := db.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for _, c := range conns {
		c.Close()
	}
}

// A Rotate cancelled at any point either happened entirely or not at all:
// after each attempt the session has exactly one live token, and it is the
// one the caller holds.
func TestSessionRotateCancelled(t *testing.T) {
	for name, newURL := range testenv.Databases() {
		t.Run(name, func(t *testing.T) {
			f := newSessionsFixture(t, newURL(t), time.Hour)
			sid, tok, _, err := f.s.Create(context.Background(), f.userID, nil)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			var ok, cancelled int
			for i := range 150 {
				ctx, cancel := context.WithCancel(context.Background())
				// Every tenth attempt is cancelled before it starts and every
				// tenth (offset by five) is never cancelled, so both outcomes
				// occur however fast or loaded the machine is; the others are
				// cancelled at a random point, most often mid-transaction.
				delay := time.Duration(rng.IntN(3000)) * time.Microsecond
				switch i % 10 {
				case 0:
					cancel()
				case 5:
					delay = time.Hour
				}
				timer := time.AfterFunc(delay, cancel)
				r, err := f.s.Rotate(ctx, tok, "")
				timer.Stop()
				cancel()
				switch {
				case err == nil:
					ok++
					tok = r.RefreshToken
				case errors.Is(err, context.Canceled):
					cancelled++
				default:
					t.Fatalf("attempt %d (cancel after %v): Rotate = %v; want success or context.Canceled", i, delay, err)
				}
				if live := f.liveTokens(t, sid); len(live) != 1 || live[0] != refreshTokenHash(tok) {
					t.Fatalf("attempt %d (cancel after %v, err %v): live tokens %v; want exactly the caller's %s", i, delay, err, live, refreshTokenHash(tok))
				}
			}
			if f.revoked(t, sid) {
				t.Error("session revoked by cancelled rotations")
			}
			t.Logf("%d rotations completed, %d cancelled", ok, cancelled)
			if ok == 0 || cancelled == 0 {
				t.Errorf("%d completed, %d cancelled; want both outcomes exercised", ok, cancelled)
			}
		})
	}
}

func TestSessionPrune(t *testing.T) {
	for name, newURL := range testenv.Databases() {
		t.Run(name, func(t *testing.T) {
			f := newSessionsFixture(t, newURL(t), 10*time.Hour)
			ctx := context.Background()
			t0 := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
			now, advance := accountsClock(t0)
			f.s.now = now

			create := func() (string, string) {
				sid, tok, _, err := f.s.Create(ctx, f.userID, nil)
				if err != nil {
					t.Fatal(err)
				}
				return sid, tok
			}
			revoke := func(sid string) {
				if _, err := f.s.Revoke(ctx, sid); err != nil {
					t.Fatal(err)
				}
			}
			expiredLongAgo, _ := create() // t0, expires t0+10h
			advance(8 * time.Hour)
			revokedLongAgo, _ := create() // t0+8h, expires t0+18h
			revoke(revokedLongAgo)
			advance(12 * time.Hour)
			expiredRecently, _ := create() // t0+20h, expires t0+30h
			advance(19 * time.Hour)
			revokedRecently, _ := create() // t0+39h
			revoke(revokedRecently)
			advance(time.Hour)
			live, tok := create() // t0+40h, expires t0+50h
			for range 3 {
				r, err := f.s.Rotate(ctx, tok, "")
				if err != nil {
					t.Fatal(err)
				}
				tok = r.RefreshToken
			}
			// now = t0+40h; cutoff = t0+16h: gone are the session that
			// expired at t0+10h and the one revoked at t0+8h (though it
			// expires only at t0+18h).
			n, err := f.s.Prune(ctx, now())
			if err != nil {
				t.Fatal(err)
			}
			if n != 2 {
				t.Errorf("Prune() = %d; want 2", n)
			}
			count := func(table, sid string) int {
				col := "session_id"
				if table == "sessions" {
					col = "id"
				}
				var c int
				if err := f.db.Get(&c, f.db.Rebind(`SELECT COUNT(*) FROM `+table+` WHERE `+col+` = ?`), sid); err != nil {
					t.Fatal(err)
				}
				return c
			}
			for _, tt := range []struct {
				name   string
				sid    string
				want   int // sessions rows
				tokens int
			}{
				{name: "expired-long-ago", sid: expiredLongAgo, want: 0, tokens: 0},
				{name: "revoked-long-ago", sid: revokedLongAgo, want: 0, tokens: 0},
				{name: "expired-within-grace", sid: expiredRecently, want: 1, tokens: 1},
				{name: "revoked-within-grace", sid: revokedRecently, want: 1, tokens: 1},
				{name: "live-with-used-tokens", sid: live, want: 1, tokens: 4},
			} {
				if got, gotTok := count("sessions", tt.sid), count("refresh_tokens", tt.sid); got != tt.want || gotTok != tt.tokens {
					t.Errorf("%s: %d session rows, %d tokens after Prune; want %d, %d", tt.name, got, gotTok, tt.want, tt.tokens)
				}
			}
			// Used tokens kept: a replay is still detected.
			if _, err := f.s.Rotate(ctx, tok, ""); err != nil {
				t.Fatal(err)
			}
			if _, err := f.s.Rotate(ctx, tok, ""); !errors.Is(err, problem.ErrRefreshReused) {
				t.Errorf("replay after Prune = %v; want problem.ErrRefreshReused", err)
			}
		})
	}
}
