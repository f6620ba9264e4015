package provider

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/authgate/authgate/internal/testenv"
)

// fakeAccounts stands for authgate's accounts, tokens and denylist behind
// the provider's interfaces: users, sessions with rotating refresh tokens
// and reuse detection, revocation by session, browser sessions by cookie.
// Access tokens are opaque here: the JWT is the integrator's.
type fakeAccounts struct {
	clock   *testenv.OffsetClock
	clients ClientStore

	mu        sync.Mutex
	users     map[string]*User // by id
	passwords map[string]string
	sessions  map[string]*fakeSession
	access    map[string]string // token → sid
	refresh   map[string]string // live refresh token → sid
	used      map[string]string // rotated-away refresh token → sid
	browsers  map[string]string // cookie value → user id
	throttled bool
	issued    int // sessions ever opened
}

type fakeSession struct {
	id, clientID, userID string
	scopes               []string
	authTime             time.Time
	service              *Client
	expires              time.Time
	revoked              bool
}

const browserCookie = "fake_session"

func newFakeAccounts(clock *testenv.OffsetClock, clients ClientStore) *fakeAccounts {
	return &fakeAccounts{
		clock: clock, clients: clients,
		users: map[string]*User{}, passwords: map[string]string{}, sessions: map[string]*fakeSession{},
		access: map[string]string{}, refresh: map[string]string{}, used: map[string]string{}, browsers: map[string]string{},
	}
}

func randomID(prefix string) string {
	b := make([]byte, 16)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// addUser adds a user with a password and returns a browser cookie signed
// in as them, authenticated at authTime.
func (f *fakeAccounts) addUser(id, username, password string, roles ...string) *User {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := &User{ID: id, Username: username, Email: username + "@example.test", EmailVerified: true, Roles: roles}
	f.users[id] = u
	f.passwords[username] = password
	return u
}

func (f *fakeAccounts) signIn(userID string, authTime time.Time) *http.Cookie {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := randomID("b-")
	f.browsers[v] = userID
	f.users[userID].AuthTime = authTime
	return &http.Cookie{Name: browserCookie, Value: v}
}

func (f *fakeAccounts) sessionCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.issued
}

func (f *fakeAccounts) CheckPassword(_ context.Context, username, password, _ string) (*User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.throttled {
		return nil, &ThrottledError{RetryAfter: 30 * time.Second}
	}
	if p, ok := f.passwords[username]; !ok || p != password {
		return nil, ErrInvalidGrant
	}
	for _, u := range f.users {
		if u.Username == username {
			c := *u
			return &c, nil
		}
	}
	return nil, ErrInvalidGrant
}

func (f *fakeAccounts) Issue(_ context.Context, g Grant) (*Issued, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := &fakeSession{id: randomID("s-"), clientID: g.Client.ID, scopes: slices.Clone(g.Scopes), authTime: g.AuthTime,
		expires: f.clock.Now().Add(15 * time.Minute)}
	if g.User == nil {
		s.service = g.Client
	} else {
		if _, ok := f.users[g.User.ID]; !ok {
			return nil, ErrInvalidGrant
		}
		s.userID = g.User.ID
	}
	f.sessions[s.id] = s
	f.issued++
	return f.mint(s, g.Refresh), nil
}

// mint makes a token pair for s; mu is held.
func (f *fakeAccounts) mint(s *fakeSession, withRefresh bool) *Issued {
	at := randomID("at-")
	f.access[at] = s.id
	out := &Issued{AccessToken: at, ExpiresAt: s.expires, SessionID: s.id, Scopes: slices.Clone(s.scopes), AuthTime: s.authTime}
	if withRefresh {
		out.RefreshToken = randomID("rt-")
		f.refresh[out.RefreshToken] = s.id
	}
	if s.userID != "" {
		u := *f.users[s.userID]
		out.User = &u
	}
	return out
}

func (f *fakeAccounts) Refresh(_ context.Context, clientID, token string) (*Issued, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if sid, ok := f.used[token]; ok {
		f.sessions[sid].revoked = true // reuse: the whole session dies
		return nil, ErrInvalidGrant
	}
	sid, ok := f.refresh[token]
	if !ok || f.sessions[sid].revoked || f.sessions[sid].clientID != clientID {
		return nil, ErrInvalidGrant
	}
	delete(f.refresh, token)
	f.used[token] = sid
	return f.mint(f.sessions[sid], true), nil
}

func (f *fakeAccounts) Inspect(_ context.Context, token string) (*TokenInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	typ, sid := "access_token", f.access[token]
	if sid == "" {
		typ, sid = "refresh_token", f.refresh[token]
	}
	s, ok := f.sessions[sid]
	if !ok || s.revoked || !f.clock.Now().Before(s.expires) {
		return nil, ErrInactive
	}
	info := &TokenInfo{Type: typ, ClientID: s.clientID, Scopes: slices.Clone(s.scopes), SessionID: s.id,
		Audience: []string{"authgate"}, TokenID: token[:8], IssuedAt: s.expires.Add(-15 * time.Minute), ExpiresAt: s.expires}
	if s.service != nil {
		info.Subject, info.Roles = s.service.ID, s.service.Roles
	} else {
		u := *f.users[s.userID]
		info.User, info.Subject, info.Roles = &u, u.ID, u.Roles
	}
	return info, nil
}

func (f *fakeAccounts) Revoke(ctx context.Context, clientID, token string) error {
	info, err := f.Inspect(ctx, token)
	if err != nil {
		return err
	}
	if info.ClientID != clientID {
		return ErrOtherClient
	}
	return f.EndSession(ctx, info.SessionID)
}

func (f *fakeAccounts) EndSession(_ context.Context, sid string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.sessions[sid]; ok {
		s.revoked = true
	}
	return nil
}

func (f *fakeAccounts) SignedIn(r *http.Request) (*User, error) {
	c, err := r.Cookie(browserCookie)
	if err != nil {
		return nil, ErrNotSignedIn
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	id, ok := f.browsers[c.Value]
	if !ok {
		return nil, ErrNotSignedIn
	}
	u := *f.users[id]
	u.SessionID = c.Value
	return &u, nil
}

func (f *fakeAccounts) SignOut(r *http.Request, userID, sid string) ([]*http.Cookie, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.sessions[sid]; ok && s.userID == userID {
		s.revoked = true
	}
	if c, err := r.Cookie(browserCookie); err == nil && f.browsers[c.Value] == userID {
		delete(f.browsers, c.Value)
	}
	return []*http.Cookie{{Name: browserCookie, Value: "", Path: "/", MaxAge: -1}}, nil
}

func (f *fakeAccounts) revoked(sid string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sessions[sid].revoked
}
