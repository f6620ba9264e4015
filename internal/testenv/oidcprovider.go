package testenv

import (
	"context"
	"crypto/subtle"
	"errors"
	"maps"
	"net"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// OIDCProvider is a real OpenID provider for tests: the OpenID-certified
// op package of github.com/zitadel/oidc/v3, with the in-memory storage and
// the login page of its example server, in-process on 127.0.0.1. Only what
// the example storage cannot do is added around it, never in place of the
// protocol: clients registered at runtime, users whose extra claims
// (groups, realm_access.roles, ...) the test can change while it runs and
// which then appear in every new ID token and userinfo answer, and users
// the test can disable so the provider refuses their refresh tokens.
//
// Discovery, the authorization endpoint (/auth), PKCE S256, the token
// endpoint with refresh tokens (scope offline_access, rotated on use),
// userinfo, JWKS (RS256) and end_session are the op's own. The login page
// at /login/username is a plain HTML form (fields username and password, a
// submit button) that Chromium can fill in; SignIn fills it with an
// http.Client.
type OIDCProvider struct {
	// Issuer is http://127.0.0.1:PORT, also the base of every endpoint.
	Issuer string

	store *providerStorage
}

// OIDCUser is a user of the test provider.
type OIDCUser struct {
	ID            string // the subject
	Username      string // typed into the login form
	Password      string
	Email         string
	EmailVerified bool
	// Claims are added to the user's ID tokens and userinfo answers as
	// they are, e.g. {"groups": []string{"staff"}, "realm_access":
	// map[string]any{"roles": []string{"app-admin"}}}.
	Claims map[string]any
}

// StartOIDCProvider runs a provider with users, stopped when the test ends.
// Register a client with RegisterClient before signing in.
func StartOIDCProvider(t testing.TB, users ...OIDCUser) *OIDCProvider {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("oidc provider: listen: %v", err)
	}
	issuer := "http://" + ln.Addr().String()
	dir := &userDirectory{users: map[string]*OIDCUser{}}
	for _, u := range users {
		dir.put(u)
	}
	st := &providerStorage{
		// The example storage keeps its own client table; ours, which can
		// grow while the provider runs, answers instead (below).
		Storage: storage.NewStorageWithClients(dir, map[string]*storage.Client{}),
		dir:     dir,
		clients: map[string]registeredClient{},
	}
	// A nil logger keeps the example from replacing the process's default
	// logger; false: the op's own server, not the legacy wrapper.
	router := exampleop.SetupServer(issuer, st, nil, false)
	srv := httptest.NewUnstartedServer(router)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return &OIDCProvider{Issuer: issuer, store: st}
}

// RegisterClient registers a confidential web client (client_secret_basic
// or _post, code flow with PKCE, refresh tokens) allowed to use
// redirectURIs exactly; plain-http redirect URIs are allowed (the example's
// development mode) so a test gateway on loopback can be one.
func (p *OIDCProvider) RegisterClient(id, secret string, redirectURIs ...string) {
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	p.store.clients[id] = registeredClient{client: storage.WebClient(id, secret, redirectURIs...), secret: secret}
}

// SetClaims replaces the extra claims of user id: the next ID token (at
// sign-in or refresh) and userinfo answer carry the new ones.
func (p *OIDCProvider) SetClaims(id string, claims map[string]any) {
	p.store.dir.update(id, func(u *OIDCUser) { u.Claims = maps.Clone(claims) })
}

// DisableUser makes the provider refuse user id from now on: the login
// form rejects them, and their refresh tokens get invalid_grant, as
// Keycloak or Entra ID answer for a disabled account.
func (p *OIDCProvider) DisableUser(id string) {
	p.store.dir.mu.Lock()
	defer p.store.dir.mu.Unlock()
	p.store.dir.disabled = append(p.store.dir.disabled, id)
}

// providerStorage is the example storage with the additions described on
// OIDCProvider. Every other op.Storage method is the example's.
type providerStorage struct {
	*storage.Storage
	dir *userDirectory

	mu      sync.Mutex
	clients map[string]registeredClient
}

type registeredClient struct {
	client *storage.Client
	secret string
}

var _ exampleop.Storage = (*providerStorage)(nil)

func (s *providerStorage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok {
		return nil, errors.New("client not found")
	}
	return storage.RedirectGlobsClient(c.client), nil
}

func (s *providerStorage) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok || subtle.ConstantTimeCompare([]byte(c.secret), []byte(secret)) != 1 {
		return errors.New("invalid client")
	}
	return nil
}

// SetUserinfoFromRequest fills an ID token's claims: the example's, then
// the user's extra claims (whatever the scopes, as Keycloak puts
// realm_access in every token).
func (s *providerStorage) SetUserinfoFromRequest(ctx context.Context, ui *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, ui, req, scopes); err != nil {
		return err
	}
	s.dir.addClaims(ui, req.GetSubject())
	return nil
}

// SetUserinfoFromToken fills a userinfo answer the same way.
func (s *providerStorage) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, ui, tokenID, subject, origin); err != nil {
		return err
	}
	s.dir.addClaims(ui, subject)
	return nil
}

// TokenRequestByRefreshToken refuses the refresh tokens of disabled users;
// the op answers invalid_grant.
func (s *providerStorage) TokenRequestByRefreshToken(ctx context.Context, token string) (op.RefreshTokenRequest, error) {
	req, err := s.Storage.TokenRequestByRefreshToken(ctx, token)
	if err != nil {
		return nil, err
	}
	if s.dir.isDisabled(req.GetSubject()) {
		return nil, errors.New("user disabled")
	}
	return req, nil
}

// userDirectory is the example's storage.UserStore over users the test can
// change while the provider serves them. It hands out copies, so the
// example storage never reads a user while the test writes it.
type userDirectory struct {
	mu       sync.Mutex
	users    map[string]*OIDCUser
	disabled []string
}

var _ storage.UserStore = (*userDirectory)(nil)

func (d *userDirectory) put(u OIDCUser) {
	d.mu.Lock()
	defer d.mu.Unlock()
	u.Claims = maps.Clone(u.Claims)
	d.users[u.ID] = &u
}

func (d *userDirectory) update(id string, f func(*OIDCUser)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if u, ok := d.users[id]; ok {
		f(u)
	}
}

func (d *userDirectory) isDisabled(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, x := range d.disabled {
		if x == id {
			return true
		}
	}
	return false
}

func (d *userDirectory) addClaims(ui *oidc.UserInfo, id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if u, ok := d.users[id]; ok {
		for k, v := range u.Claims {
			ui.AppendClaims(k, v)
		}
	}
}

func (d *userDirectory) GetUserByID(id string) *storage.User {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.exampleUser(d.users[id])
}

func (d *userDirectory) GetUserByUsername(name string) *storage.User {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, u := range d.users {
		if u.Username == name {
			return d.exampleUser(u)
		}
	}
	return nil
}

// ExampleClientID names the example's JWT-profile service user, unused here.
func (d *userDirectory) ExampleClientID() string { return storage.ServiceUserID }

// exampleUser is u as the example storage wants it, or nil when u is
// missing or disabled (the login form then says the password is wrong).
// d.mu is held.
func (d *userDirectory) exampleUser(u *OIDCUser) *storage.User {
	if u == nil {
		return nil
	}
	for _, x := range d.disabled {
		if x == u.ID {
			return nil
		}
	}
	return &storage.User{
		ID: u.ID, Username: u.Username, Password: u.Password,
		FirstName: u.Username, LastName: "Test",
		Email: u.Email, EmailVerified: u.EmailVerified,
		PreferredLanguage: language.English,
	}
}
