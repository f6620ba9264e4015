package gateway

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/authgate/authgate/accounts"
	"github.com/authgate/authgate/internal/testenv"
)

// The acceptance tests of route protection (issue 4), through the real
// gateway: TLS, the auth API for accounts and tokens, the router, the
// authentication and the proxy to a real backend that records what it
// receives.

// pProtectRoutes are the routes of these tests, all to one backend.
func pProtectRoutes(backend string) string {
	return fmt.Sprintf(`  - name: public
    path: /public
    auth: public
    upstream: %[1]s
  - name: required
    path: /required
    auth: required
    upstream: %[1]s
  - name: roles
    path: /roles
    auth: required
    roles: [admin]
    upstream: %[1]s
  - name: noredirect
    path: /noredirect
    auth: required
    login_redirect: false
    upstream: %[1]s
  - name: forward
    path: /forward
    auth: required
    forward_token: true
    upstream: %[1]s
`, backend)
}

// pCreds are access tokens of one user in every state the tests need.
type pCreds struct {
	valid    string
	expired  string // ours, but past exp
	revoked  string // its session logged out
	tampered string // signature altered
}

// pProtectFixture is a running gateway with the protect routes, the
// recording backend, alice (registered through the API, no roles) and
// root (created through the admin path with role admin).
type pProtectFixture struct {
	g           *pGateway
	b           *pBackend
	alice, root pUser
	aliceTok    pCreds
	rootTok     pCreds
}

func pNewProtectFixture(t *testing.T) *pProtectFixture {
	t.Helper()
	b := pStartBackend(t)
	gw, cfgFile := pConfig(t, pProtectRoutes(b.URL()), "")
	root := pUser{Username: "root", Email: "root@example.com", Password: "correct-horse-battery-root", Roles: "admin"}
	u := pAddUser(t, cfgFile, accounts.NewUser{Username: root.Username, Email: root.Email, Password: root.Password, Roles: []string{"admin"}})
	root.ID = fmt.Sprint(u.ID)
	g := pStartGateway(t, gw, cfgFile)
	f := &pProtectFixture{g: g, b: b, root: root, alice: g.register(t, "alice")}
	f.aliceTok = f.creds(t, f.alice)
	f.rootTok = f.creds(t, f.root)
	return f
}

// creds logs u in twice: one session stays, the other is logged out.
func (f *pProtectFixture) creds(t *testing.T, u pUser) pCreds {
	t.Helper()
	live := f.g.login(t, u).AccessToken
	dead := f.g.login(t, u).AccessToken
	f.g.logout(t, dead)
	return pCreds{valid: live, expired: pExpire(t, live, []byte(testSecret)), revoked: dead, tampered: pTamper(live)}
}

// pForgedHeaders are what a client sends hoping to pass for someone:
// identity headers in several spellings (the "_" one is what CGI servers
// read as the real one) and method overrides.
var pForgedHeaders = [][2]string{
	{"X-Auth-User-Id", "999"},
	{"X-Auth-User", "mallory"},
	{"X-Auth-Email", "mallory@evil.example"},
	{"X-Auth-Roles", "admin"},
	{"X_Auth_User", "mallory"},
	{"X-HTTP-Method-Override", "DELETE"},
	{"X-HTTP-Method", "DELETE"},
	{"X-Method-Override", "DELETE"},
}

// pOtherCookies are the cookies every request of the matrix carries besides
// its credential: the application's own (which must reach the backend) and
// the gateway's CSRF and refresh cookies (which must not). The refresh
// cookie is stale: with an expired access cookie the gateway tries it, and
// must still refuse.
const pOtherCookies = "app=1; __Host-authgate-csrf=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA; __Secure-authgate-refresh=stale"

// TestProtect runs the route-protection checks below against one gateway
// (accounts cost a bcrypt hash each, so they are made once).
func TestProtect(t *testing.T) {
	f := pNewProtectFixture(t)
	t.Run("matrix", func(t *testing.T) { pProtectMatrix(t, f) })
	t.Run("ambiguous-credentials", func(t *testing.T) { pProtectAmbiguousCredentials(t, f) })
	t.Run("forward-token", func(t *testing.T) { pProtectForwardToken(t, f) })
	t.Run("upstream-set-cookie", func(t *testing.T) { pProtectUpstreamSetCookie(t, f) })
	t.Run("login-redirect", func(t *testing.T) { pProtectLoginRedirect(t, f) })
	t.Run("login-round-trip", func(t *testing.T) { pProtectLoginRoundTrip(t, f) })
	t.Run("hop-by-hop", func(t *testing.T) { pProtectHopByHop(t, f) })
	t.Run("admin-changes", func(t *testing.T) { pProtectAdminChanges(t, f) })
}

// pProtectMatrix runs every route kind (public, auth required, role
// required) against every credential state (valid, expired, revoked,
// tampered, none; and a valid token without the role), sent as a bearer
// token and as the session cookie, over HTTP/2 and HTTP/1.1, and checks
// the answer and what the backend saw.
//
// On a public route a credential is simply ignored: it is neither checked
// nor used, so a broken one does not fail the request and a valid one
// does not make the backend see an identity.
func pProtectMatrix(t *testing.T, f *pProtectFixture) {

	const (
		none          = ""
		noError       = `Bearer realm="authgate"`
		invalidToken  = `Bearer realm="authgate", error="invalid_token"`
		insufficient  = `Bearer realm="authgate", error="insufficient_scope"`
		missingRole   = "missing-role"
		stateValid    = "valid"
		stateExpired  = "expired"
		stateRevoked  = "revoked"
		stateTampered = "tampered"
		stateNone     = "none"
	)
	type row struct {
		route     string
		state     string
		creds     pCreds
		wantCode  int
		wantChall string // WWW-Authenticate; none = absent
		wantUser  *pUser // identity the backend sees; nil = none at all
	}
	rows := []row{
		{"public", stateNone, pCreds{}, 200, none, nil},
		{"public", stateValid, f.aliceTok, 200, none, nil},
		{"public", stateExpired, f.aliceTok, 200, none, nil},
		{"public", stateRevoked, f.aliceTok, 200, none, nil},
		{"public", stateTampered, f.aliceTok, 200, none, nil},

		{"required", stateNone, pCreds{}, 401, noError, nil},
		{"required", stateValid, f.aliceTok, 200, none, &f.alice},
		{"required", stateExpired, f.aliceTok, 401, invalidToken, nil},
		{"required", stateRevoked, f.aliceTok, 401, invalidToken, nil},
		{"required", stateTampered, f.aliceTok, 401, invalidToken, nil},

		{"roles", stateNone, pCreds{}, 401, noError, nil},
		{"roles", stateValid, f.rootTok, 200, none, &f.root},
		{"roles", missingRole, f.aliceTok, 403, insufficient, nil},
		{"roles", stateExpired, f.rootTok, 401, invalidToken, nil},
		{"roles", stateRevoked, f.rootTok, 401, invalidToken, nil},
		{"roles", stateTampered, f.rootTok, 401, invalidToken, nil},
	}
	for _, r := range rows {
		token := map[string]string{
			stateValid: r.creds.valid, missingRole: r.creds.valid, stateExpired: r.creds.expired,
			stateRevoked: r.creds.revoked, stateTampered: r.creds.tampered, stateNone: "",
		}[r.state]
		for _, kind := range []string{"bearer", "cookie"} {
			for _, proto := range []struct {
				name   string
				major  int
				client *http.Client
			}{{"h2", 2, f.g.client}, {"h1", 1, f.g.client1}} {
				prefix := "ok"
				if r.wantCode != 200 {
					prefix = "fail"
				}
				name := fmt.Sprintf("%s-%s-%s-%s-%s", prefix, r.route, kind, r.state, proto.name)
				t.Run(name, func(t *testing.T) {
					hdr := slices.Clone(pForgedHeaders)
					cookie := pOtherCookies
					switch {
					case token == "":
					case kind == "bearer":
						hdr = append(hdr, [2]string{"Authorization", "Bearer " + token})
					default:
						cookie += "; __Host-authgate=" + token
					}
					hdr = append(hdr, [2]string{"Cookie", cookie})
					path := "/" + r.route + "/resource?q=1"
					before := f.b.count()
					resp := f.g.doWith(t, proto.client, http.MethodGet, path, nil, hdr...)
					if resp.ProtoMajor != proto.major {
						t.Fatalf("answered over HTTP/%d; want HTTP/%d", resp.ProtoMajor, proto.major)
					}
					if resp.StatusCode != r.wantCode {
						t.Fatalf("GET %s = %d %s; want %d", path, resp.StatusCode, resp.body, r.wantCode)
					}
					if got := resp.Header.Values("WWW-Authenticate"); r.wantChall == none && len(got) != 0 ||
						r.wantChall != none && (len(got) != 1 || got[0] != r.wantChall) {
						t.Errorf("WWW-Authenticate = %q; want %q", got, r.wantChall)
					}
					if r.wantCode != 200 {
						resp.checkProblem(t)
						if n := f.b.count() - before; n != 0 {
							t.Errorf("backend received %d requests; want none on a %d", n, r.wantCode)
						}
						return
					}
					seen := f.b.last(t, before)
					if seen.Method != http.MethodGet || seen.RequestURI != path {
						t.Errorf("backend got %s %s; want GET %s", seen.Method, seen.RequestURI, path)
					}
					pCheckUpstreamView(t, seen, r.wantUser, false)
				})
			}
		}
	}
}

// pCheckUpstreamView checks the headers and cookies a proxied request
// reached the backend with: the identity headers of want (none when nil)
// and nothing a client sent in their place, no method override, and —
// unless the route forwards tokens — no Authorization header and no
// gateway cookie, while the application's cookie app=1 arrives.
func pCheckUpstreamView(t *testing.T, seen pSeen, want *pUser, forwardToken bool) {
	t.Helper()
	wantHdr := map[string]string{}
	if want != nil {
		wantHdr["X-Auth-User-Id"] = want.ID
		wantHdr["X-Auth-User"] = want.Username
		wantHdr["X-Auth-Email"] = want.Email
		wantHdr["X-Auth-Roles"] = want.Roles // "" is not sent at all
	}
	for name, values := range seen.Header {
		norm := strings.ToLower(strings.ReplaceAll(name, "_", "-"))
		switch {
		case strings.HasPrefix(norm, "x-auth-"):
			w, ok := wantHdr[name]
			if !ok || w == "" || len(values) != 1 || values[0] != w {
				t.Errorf("backend got %s: %q; want %q", name, values, w)
			}
		case strings.Contains(norm, "method"):
			t.Errorf("backend got method override %s: %q", name, values)
		case norm == "authorization" && !forwardToken:
			t.Errorf("backend got Authorization: %q; want it removed", values)
		}
	}
	for name, w := range wantHdr {
		if w != "" && seen.Header.Get(name) != w {
			t.Errorf("backend got %s: %q; want %q", name, seen.Header.Get(name), w)
		}
	}
	var app []string
	for _, c := range seen.Cookies {
		if c.Name == "app" {
			app = append(app, c.Value)
		}
		if slices.Contains(pGatewayCookies, c.Name) && !(forwardToken && c.Name == "__Host-authgate") {
			t.Errorf("backend got the gateway's cookie %s", c.Name)
		}
	}
	if !slices.Equal(app, []string{"1"}) {
		t.Errorf("backend got app cookies %q; want [1] (the application's cookies pass)", app)
	}
}

// pProtectAmbiguousCredentials: RFC 6750 §2 lets a client use one way
// of sending its token. Two different credentials, or two Authorization
// headers, are a 400 invalid_request and never reach the backend, whoever
// they name.
func pProtectAmbiguousCredentials(t *testing.T, f *pProtectFixture) {
	alice, root := f.aliceTok.valid, f.rootTok.valid
	tests := []struct {
		name     string
		hdr      [][2]string
		wantCode int
	}{
		{"fail-bearer-and-other-cookie", [][2]string{{"Authorization", "Bearer " + alice}, {"Cookie", "__Host-authgate=" + root}}, 400},
		{"fail-two-authorization-headers", [][2]string{{"Authorization", "Bearer " + alice}, {"Authorization", "Bearer " + root}}, 400},
		{"fail-same-authorization-twice", [][2]string{{"Authorization", "Bearer " + alice}, {"Authorization", "Bearer " + alice}}, 400},
		{"fail-two-different-cookies", [][2]string{{"Cookie", "__Host-authgate=" + alice + "; __Host-authgate=" + root}}, 400},
		{"fail-two-cookie-headers", [][2]string{{"Cookie", "__Host-authgate=" + alice}, {"Cookie", "__Host-authgate=" + root}}, 400},
		{"fail-basic-scheme", [][2]string{{"Authorization", "Basic YWxpY2U6cGFzc3dvcmQ="}}, 400},
		{"fail-bearer-without-token", [][2]string{{"Authorization", "Bearer "}}, 400},
		// The same token as header and cookie is one credential.
		{"ok-bearer-and-same-cookie", [][2]string{{"Authorization", "Bearer " + alice}, {"Cookie", "__Host-authgate=" + alice}}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.b.count()
			resp := f.g.do(t, http.MethodGet, "/required/x", nil, tt.hdr...)
			if resp.StatusCode != tt.wantCode {
				t.Fatalf("GET /required/x = %d %s; want %d", resp.StatusCode, resp.body, tt.wantCode)
			}
			if tt.wantCode == 200 {
				seen := f.b.last(t, before)
				if got := seen.Header.Get("X-Auth-User"); got != "alice" {
					t.Errorf("backend got X-Auth-User %q; want alice", got)
				}
				return
			}
			resp.checkProblem(t)
			if got, want := resp.Header.Get("WWW-Authenticate"), `Bearer realm="authgate", error="invalid_request"`; got != want {
				t.Errorf("WWW-Authenticate = %q; want %q", got, want)
			}
			if n := f.b.count() - before; n != 0 {
				t.Errorf("backend received %d requests; want none", n)
			}
		})
	}
}

// pProtectAdminChanges: a role change or a disabled account, made with the
// admin path (another process on the same database, as `authgate user`
// is), reaches the running gateway: the user's current access tokens stop
// working there, a refresh brings the new roles, and a disabled user's
// refresh fails too. Polling waits for the change to propagate (the
// gateway mirrors the denylist table); nothing here measures how fast.
func pProtectAdminChanges(t *testing.T, f *pProtectFixture) {
	bob := f.g.register(t, "bob")
	tok := f.g.login(t, bob)
	get := func(path, access string) pResponse {
		return f.g.do(t, http.MethodGet, path, nil, [2]string{"Authorization", "Bearer " + access})
	}
	if resp := get("/roles/x", tok.AccessToken); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("GET /roles/x as bob before the change = %d; want 403", resp.StatusCode)
	}

	pAdmin(t, f.g.cfgFile, func(ctx context.Context, admin *accounts.Service) error {
		_, err := admin.SetRoles(ctx, "bob", []string{"admin"})
		return err
	})
	testenv.WaitFor(t, "the role change to cut off bob's access token", func() bool {
		return get("/required/x", tok.AccessToken).StatusCode == http.StatusUnauthorized
	})
	if resp := get("/required/x", tok.AccessToken); resp.Header.Get("WWW-Authenticate") != `Bearer realm="authgate", error="invalid_token"` {
		t.Errorf("cut-off token: WWW-Authenticate = %q; want invalid_token", resp.Header.Get("WWW-Authenticate"))
	}
	var renewed pTokens
	if resp := f.g.postJSON(t, "/auth/refresh", map[string]string{"refresh_token": tok.RefreshToken}, &renewed); resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /auth/refresh after the role change = %d %s; want 200", resp.StatusCode, resp.body)
	}
	before := f.b.count()
	if resp := get("/roles/x", renewed.AccessToken); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /roles/x with the refreshed token = %d; want 200", resp.StatusCode)
	}
	if got := f.b.last(t, before).Header.Get("X-Auth-Roles"); got != "admin" {
		t.Errorf("backend got X-Auth-Roles %q; want admin", got)
	}

	pAdmin(t, f.g.cfgFile, func(ctx context.Context, admin *accounts.Service) error {
		_, err := admin.SetActive(ctx, "bob", false)
		return err
	})
	testenv.WaitFor(t, "disabling bob to cut off his access token", func() bool {
		return get("/roles/x", renewed.AccessToken).StatusCode == http.StatusUnauthorized
	})
	before = f.b.count()
	if resp := get("/roles/x", renewed.AccessToken); resp.StatusCode != http.StatusUnauthorized || f.b.count() != before {
		t.Errorf("GET /roles/x as disabled bob = %d, backend called %d times; want 401 and never", resp.StatusCode, f.b.count()-before)
	}
	if resp := f.g.postJSON(t, "/auth/refresh", map[string]string{"refresh_token": renewed.RefreshToken}, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST /auth/refresh for a disabled user = %d; want 401", resp.StatusCode)
	}
}
