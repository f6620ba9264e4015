package federation

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// fakeGitHub is GitHub Enterprise Server as far as sign-in goes: the OAuth
// endpoints at the root and the REST API under /api/v3, which is where
// the defaults derived from issuer point.
type fakeGitHub struct {
	*httptest.Server
	mu        sync.Mutex
	verified  bool     // the primary email is verified
	orgs      []string // returned over two pages
	teams     [][2]string
	nextLink  string // overrides the orgs page-2 link
	refresh   bool   // issue refresh tokens (a GitHub App)
	refuse    bool   // refresh answers invalid_grant
	tokens    map[string]bool
	apiCalls  atomic.Int32
	lastScope string
}

func startFakeGitHub(t *testing.T) *fakeGitHub {
	t.Helper()
	g := &fakeGitHub{verified: true, orgs: []string{"other", "Acme"}, teams: [][2]string{{"acme", "platform"}}, tokens: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login/oauth/authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		g.mu.Lock()
		g.lastScope = q.Get("scope")
		g.mu.Unlock()
		back, _ := url.Parse(q.Get("redirect_uri"))
		back.RawQuery = url.Values{"code": {"gh-code"}, "state": {q.Get("state")}}.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	})
	mux.HandleFunc("POST /login/oauth/access_token", g.token)
	mux.HandleFunc("GET /api/v3/user", g.api(func(r *http.Request) (any, string) {
		return map[string]any{"id": 4242, "login": "Octo-Cat", "name": "Octo", "email": "public@elsewhere.test"}, ""
	}))
	mux.HandleFunc("GET /api/v3/user/emails", g.api(func(r *http.Request) (any, string) {
		return []any{
			map[string]any{"email": "old@example.com", "primary": false, "verified": true},
			map[string]any{"email": "octo@example.com", "primary": true, "verified": g.verified},
		}, ""
	}))
	mux.HandleFunc("GET /api/v3/user/orgs", g.api(func(r *http.Request) (any, string) {
		if r.URL.Query().Get("page") == "2" {
			return []any{map[string]any{"login": g.orgs[1]}}, ""
		}
		next := g.nextLink
		if next == "" {
			next = g.URL + "/api/v3/user/orgs?page=2&per_page=100"
		}
		return []any{map[string]any{"login": g.orgs[0]}}, `<` + next + `>; rel="next", <` + next + `>; rel="last"`
	}))
	mux.HandleFunc("GET /api/v3/user/teams", g.api(func(r *http.Request) (any, string) {
		var out []any
		for _, t := range g.teams {
			out = append(out, map[string]any{"slug": t[1], "organization": map[string]any{"login": t[0]}})
		}
		return out, ""
	}))
	g.Server = httptest.NewServer(mux)
	t.Cleanup(g.Close)
	return g
}

func (g *fakeGitHub) token(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	g.mu.Lock()
	defer g.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if r.PostForm.Get("grant_type") == "refresh_token" && g.refuse {
		// GitHub answers errors with 200 and an error field.
		w.Write([]byte(`{"error":"invalid_grant","error_description":"The refresh token passed is incorrect or expired."}`))
		return
	}
	tok := map[string]any{"access_token": "gho_" + randomHex(), "token_type": "bearer", "scope": "read:user"}
	if g.refresh {
		tok["refresh_token"], tok["expires_in"] = "ghr_"+randomHex(), 28800
	}
	g.tokens[tok["access_token"].(string)] = true
	json.NewEncoder(w).Encode(tok)
}

// api serves a REST endpoint to a token the fake issued.
func (g *fakeGitHub) api(body func(r *http.Request) (any, string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		g.apiCalls.Add(1)
		g.mu.Lock()
		defer g.mu.Unlock()
		if tok, ok := bearer(r); !ok || !g.tokens[tok] {
			http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
			return
		}
		v, link := body(r)
		if link != "" {
			w.Header().Set("Link", link)
		}
		json.NewEncoder(w).Encode(v)
	}
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) < 8 || h[:7] != "Bearer " {
		return "", false
	}
	return h[7:], true
}

func randomHex() string { return rand.Text() }

func (g *fakeGitHub) provider(name string) ProviderConfig {
	return ProviderConfig{Name: name, Type: TypeGitHub, Issuer: g.URL, ClientID: "Iv1.gh", ClientSecret: "gh-secret-0123456789"}
}

func TestGitHub(t *testing.T) {
	tests := []struct {
		name      string
		pc        func(pc *ProviderConfig)
		gh        func(g *fakeGitHub)
		wantRoles []string
		want      error
	}{
		{name: "ok-org-on-second-page", pc: func(pc *ProviderConfig) { pc.AllowedOrgs = []string{"acme"} }},
		{name: "ok-team-maps-to-role", wantRoles: []string{"admin"}, pc: func(pc *ProviderConfig) {
			pc.AllowedTeams = []string{"Acme/platform"}
			pc.RolesClaim = "teams"
			pc.RoleMap = map[string][]string{"ACME/platform": {"admin"}, "acme/other": {"x"}}
		}},
		{name: "ok-orgs-as-roles", wantRoles: []string{"acme", "other"}, pc: func(pc *ProviderConfig) {
			pc.RolesClaim = "orgs"
			pc.AllowedDomains = []string{"example.com"}
		}},
		{name: "fail-not-in-allowed-org", want: ErrNotAllowed, pc: func(pc *ProviderConfig) {
			pc.AllowedOrgs = []string{"initech"}
		}},
		{name: "fail-not-in-allowed-team", want: ErrNotAllowed, pc: func(pc *ProviderConfig) {
			pc.AllowedTeams = []string{"acme/security"}
		}},
		{name: "fail-unverified-email-for-domain", want: ErrEmailNotVerified,
			pc: func(pc *ProviderConfig) { pc.AllowedDomains = []string{"example.com"} },
			gh: func(g *fakeGitHub) { g.verified = false }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := startFakeGitHub(t)
			if tt.gh != nil {
				tt.gh(g)
			}
			pc := g.provider("gh")
			if tt.pc != nil {
				tt.pc(&pc)
			}
			f, logs := newFed(t, pc)
			res, err := signIn(t, f, "gh")
			if tt.want != nil {
				wantErr(t, "Callback", err, tt.want)
				noSecrets(t, "logs", logs.String(), pc.ClientSecret, "gho_")
				return
			}
			if err != nil {
				t.Fatalf("sign-in = %v", err)
			}
			if res.Issuer != g.URL || res.Subject != "4242" || res.Username != "Octo-Cat" ||
				res.Email != "octo@example.com" || !res.EmailVerified || !slices.Equal(res.Roles, tt.wantRoles) {
				t.Errorf("Result = %+v; want subject 4242, Octo-Cat, the verified primary email, roles %v", res, tt.wantRoles)
			}
			if scope := g.lastScope; (len(pc.AllowedOrgs)+len(pc.AllowedTeams) > 0 || pc.RolesClaim != "") != (scope == "read:user user:email read:org") {
				t.Errorf("requested scope %q with orgs or teams needed = %v", scope, pc.AllowedOrgs)
			}
		})
	}
}

// TestGitHubNextPageStaysOnAPI: a Link header pointing the next page at
// another host does not get the user's token sent there.
func TestGitHubNextPageStaysOnAPI(t *testing.T) {
	var stolen atomic.Int32
	thief := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stolen.Add(1)
		w.Write([]byte("[]"))
	}))
	t.Cleanup(thief.Close)
	g := startFakeGitHub(t)
	g.nextLink = thief.URL + "/api/v3/user/orgs?page=2"
	pc := g.provider("gh")
	pc.AllowedOrgs = []string{"acme"}
	f, _ := newFed(t, pc)
	_, err := signIn(t, f, "gh")
	wantErr(t, "Callback", err, ErrProviderUnavailable)
	if n := stolen.Load(); n != 0 {
		t.Errorf("the other host got %d requests", n)
	}
}

// TestGitHubAppRefresh: a GitHub App's expiring user token is refreshed and
// teams re-read; GitHub refusing the refresh (with its 200 + error body)
// is ErrRevoked; an OAuth App issues no refresh token at all.
func TestGitHubAppRefresh(t *testing.T) {
	g := startFakeGitHub(t)
	g.refresh = true
	pc := g.provider("gh")
	pc.RolesClaim, pc.RoleMap = "teams", map[string][]string{"acme/platform": {"admin"}}
	f, _ := newFed(t, pc)
	res, err := signIn(t, f, "gh")
	if err != nil || res.RefreshToken == "" || !slices.Equal(res.Roles, []string{"admin"}) {
		t.Fatalf("sign-in = %+v, %v; want a refresh token and [admin]", res, err)
	}
	g.mu.Lock()
	g.teams = nil
	g.mu.Unlock()
	roles, rt, err := f.RefreshRoles(context.Background(), "gh", res.Subject, res.RefreshToken)
	if err != nil || len(roles) != 0 || roles == nil || rt == res.RefreshToken {
		t.Fatalf("RefreshRoles = %v, %v; want [] and a new refresh token", roles, err)
	}
	g.mu.Lock()
	g.refuse = true
	g.mu.Unlock()
	_, _, err = f.RefreshRoles(context.Background(), "gh", res.Subject, rt)
	wantErr(t, "RefreshRoles", err, ErrRevoked)

	g.mu.Lock()
	g.refresh = false
	g.mu.Unlock()
	res, err = signIn(t, f, "gh")
	if err != nil || res.RefreshToken != "" {
		t.Fatalf("OAuth App sign-in = %+v, %v; want no refresh token", res, err)
	}
	_, _, err = f.RefreshRoles(context.Background(), "gh", res.Subject, res.RefreshToken)
	wantErr(t, "RefreshRoles", err, ErrNoRefreshToken)
}

func TestNextLink(t *testing.T) {
	tests := []struct{ name, header, want string }{
		{"ok-github", `<https://api.github.com/user/orgs?page=2>; rel="next", <https://api.github.com/user/orgs?page=5>; rel="last"`, "https://api.github.com/user/orgs?page=2"},
		{"ok-next-second", `<https://a/1>; rel="prev", <https://a/3>; rel="next"`, "https://a/3"},
		{"ok-multiple-rels", `<https://a/3>; rel="next last"`, "https://a/3"},
		{"fail-none", `<https://a/1>; rel="prev"`, ""},
		{"fail-empty", ``, ""},
		{"fail-no-brackets", `https://a/3; rel="next"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nextLink(tt.header); got != tt.want {
				t.Errorf("nextLink(%q) = %q; want %q", tt.header, got, tt.want)
			}
		})
	}
}
