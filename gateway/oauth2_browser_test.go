package gateway

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authgate/authgate/internal/testenv"
)

// oRP is a relying party built only from libraries nobody here wrote:
// golang.org/x/oauth2 runs the code flow with PKCE, go-oidc discovers the
// provider and verifies the ID token (signature by the JWKS, iss, aud,
// exp, nonce).
type oRP struct {
	srv *httptest.Server

	mu       sync.Mutex
	ctx      context.Context // carries the HTTP client trusting the gateway
	cfg      *oauth2.Config
	verifier *oidc.IDTokenVerifier
	provider *oidc.Provider
	pending  map[string][2]string // state → nonce, PKCE verifier
	errs     []string
}

func oStartRP(t *testing.T) *oRP {
	rp := &oRP{pending: map[string][2]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", rp.login)
	mux.HandleFunc("GET /callback", rp.callback)
	rp.srv = httptest.NewServer(mux)
	t.Cleanup(rp.srv.Close)
	return rp
}

// use points the RP at the issuer, discovering it through go-oidc.
func (rp *oRP) use(t *testing.T, client *http.Client, issuer, clientID, secret string) {
	t.Helper()
	ctx := oidc.ClientContext(context.Background(), client)
	p, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		t.Fatalf("go-oidc discovery of %s: %v", issuer, err)
	}
	rp.mu.Lock()
	defer rp.mu.Unlock()
	rp.ctx, rp.provider = ctx, p
	rp.cfg = &oauth2.Config{ClientID: clientID, ClientSecret: secret, Endpoint: p.Endpoint(),
		RedirectURL: rp.srv.URL + "/callback", Scopes: []string{oidc.ScopeOpenID, "profile", "email", "roles"}}
	rp.verifier = p.Verifier(&oidc.Config{ClientID: clientID})
}

func randomHex() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (rp *oRP) login(w http.ResponseWriter, r *http.Request) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	state, nonce, verifier := randomHex(), randomHex(), oauth2.GenerateVerifier()
	rp.pending[state] = [2]string{nonce, verifier}
	http.Redirect(w, r, rp.cfg.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), http.StatusFound)
}

func (rp *oRP) fail(w http.ResponseWriter, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	rp.mu.Lock()
	rp.errs = append(rp.errs, msg)
	rp.mu.Unlock()
	http.Error(w, msg, http.StatusBadRequest)
}

func (rp *oRP) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	rp.mu.Lock()
	p, ok := rp.pending[q.Get("state")]
	delete(rp.pending, q.Get("state"))
	ctx, cfg, verifier, provider := rp.ctx, rp.cfg, rp.verifier, rp.provider
	rp.mu.Unlock()
	if !ok {
		rp.fail(w, "callback with an unknown state %q (error %q)", q.Get("state"), q.Get("error"))
		return
	}
	if iss := q.Get("iss"); iss == "" || !strings.HasPrefix(provider.Endpoint().AuthURL, iss+"/") {
		rp.fail(w, "callback iss %q (RFC 9207)", q.Get("iss"))
		return
	}
	tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(p[1]))
	if err != nil {
		rp.fail(w, "code exchange: %v", err)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := verifier.Verify(ctx, raw)
	if err != nil {
		rp.fail(w, "ID token: %v", err)
		return
	}
	if idt.Nonce != p[0] {
		rp.fail(w, "ID token nonce %q; want %q", idt.Nonce, p[0])
		return
	}
	var claims struct {
		Username string   `json:"preferred_username"`
		Roles    []string `json:"roles"`
	}
	if err := idt.Claims(&claims); err != nil {
		rp.fail(w, "ID token claims: %v", err)
		return
	}
	info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil || info.Subject != idt.Subject {
		rp.fail(w, "userinfo: %v (sub %q; want %q)", err, info.Subject, idt.Subject)
		return
	}
	w.Header().Set("Content-Type", "text/html")
	fmt.Fprintf(w, `<p id="who">%s</p><p id="roles">%s</p><p id="sub">%s</p>`, html.EscapeString(claims.Username),
		html.EscapeString(strings.Join(claims.Roles, ",")), html.EscapeString(idt.Subject))
}

func (rp *oRP) problems() []string {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return slices.Clone(rp.errs)
}

// oSignIn fills in the login page the tab was sent to.
func oSignIn(t *testing.T, ctx context.Context, u pUser, until chromedp.Action[chromedp.Void]) {
	t.Helper()
	step, cancel := context.WithTimeout(ctx, 25*time.Second)
	defer cancel()
	if err := chromedp.Do(step,
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), u.Username),
		chromedp.SendKeys(chromedp.ID("password"), u.Password),
		chromedp.Click(chromedp.CSS(`form[action="/auth/login"] button[type=submit]`)),
		until,
	); err != nil {
		text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		t.Fatalf("signing in: %v; the browser is at %s, showing %q", err, testenv.ChromiumLocation(t, ctx), text)
	}
}

// TestOAuth2InteropBrowser: real clients nobody here wrote sign a real
// browser in through authgate as their OAuth2/OIDC provider.
func TestOAuth2InteropBrowser(t *testing.T) {
	testenv.RequireChromium(t)
	rp := oStartRP(t)
	clients := func(string) string {
		return oClient("goapp", false, true, []string{"authorization_code", "refresh_token"}, []string{rp.srv.URL + "/callback"}, nil)
	}
	o := oStart(t, clients, "  - {name: app, path: /app, auth: required, upstream: \"builtin:echo\"}\n", "")
	alice := o.register(t, "alice")
	browser := testenv.Chromium(t, testenv.ChromiumOptions{TrustCerts: []string{filepath.Join(o.gw.dir, "certs", "selfsigned.crt")}})

	// x/oauth2 + go-oidc: code flow with PKCE, ID token verified.
	t.Run("ok-go-oidc-code-flow-pkce", func(t *testing.T) {
		rp.use(t, &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: o.roots}}, Timeout: 30 * time.Second},
			o.issuer, "goapp", oSecret)
		ctx := pTab(t, browser)
		nav, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := chromedp.Do(nav, chromedp.Navigate(rp.srv.URL+"/login")); err != nil {
			t.Fatalf("opening the app's login: %v (at %s)", err, testenv.ChromiumLocation(t, ctx))
		}
		if u := testenv.ChromiumLocation(t, ctx); u.Path != "/auth/login" || !strings.HasPrefix(u.Query().Get("rd"), "/auth/oauth2/authorize?") {
			t.Fatalf("the browser is at %s; want the login page, back to the authorization request", u)
		}
		oSignIn(t, ctx, alice, chromedp.WaitVisible(chromedp.ID("who")))
		name, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("who")))
		if err != nil {
			t.Fatal(err)
		}
		sub, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("sub")))
		if err != nil {
			t.Fatal(err)
		}
		if name != "alice" || sub != alice.ID {
			t.Errorf("the app says %q (sub %q); want alice (sub %s)", name, sub, alice.ID)
		}
		if p := rp.problems(); len(p) > 0 {
			t.Errorf("the relying party refused: %v", p)
		}
	})

	// oauth2-proxy v7, with authgate as its OIDC issuer, signs the browser
	// in and tells its upstream who it is.
	t.Run("ok-oauth2-proxy", func(t *testing.T) {
		upstream := newBackend(t, "behind-oauth2-proxy")
		proxyCfg := testenv.OAuth2ProxyConfig{
			Issuer: o.issuer, CAFile: filepath.Join(o.gw.dir, "certs", "selfsigned.crt"),
			ClientID: "oauth2-proxy", ClientSecret: oSecret, Upstream: upstream.URL,
			ExtraArgs: []string{"--insecure-oidc-allow-unverified-email", "--scope=openid email profile"},
		}
		proxy := testenv.StartOAuth2Proxy(t, proxyCfg)
		// Now that its callback is known, register it and restart.
		o.restart(t, o.gw, clients("")+oClient("oauth2-proxy", false, true,
			[]string{"authorization_code", "refresh_token"}, []string{proxy.RedirectURL}, nil))
		ctx := pTab(t, browser)
		if err := chromedp.Do(ctx, chromedp.Navigate(proxy.URL+"/private")); err != nil {
			t.Fatal(err)
		}
		oSignIn(t, ctx, alice, chromedp.WaitVisible(chromedp.CSS("body")))
		testenv.WaitFor(t, "oauth2-proxy to pass the signed-in browser to its upstream", func() bool { return upstream.count() > 0 })
		// The page may still be between oauth2-proxy's redirects: an
		// evaluation whose document goes away ("Cannot find context with
		// specified id") is asked again, on the next document.
		var text string
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(text, "behind-oauth2-proxy") {
			if time.Now().After(deadline) {
				t.Fatalf("page at %s says %q; want the upstream's answer\noauth2-proxy log:\n%s", testenv.ChromiumLocation(t, ctx), text, proxy.Log())
			}
			step, cancel := context.WithTimeout(ctx, 5*time.Second)
			text, _ = chromedp.Run(step, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
			cancel()
			time.Sleep(20 * time.Millisecond) // poll interval
		}
		h := upstream.last(t).Header
		// oauth2-proxy's user is the ID token's sub: alice's user id.
		if user, email := h.Get("X-Forwarded-User"), h.Get("X-Forwarded-Email"); user != alice.ID || email != alice.Email {
			t.Errorf("upstream got X-Forwarded-User %q, X-Forwarded-Email %q; want %s, %s", user, email, alice.ID, alice.Email)
		}
		t.Logf("upstream got X-Forwarded-User %q, X-Forwarded-Email %q", h.Get("X-Forwarded-User"), h.Get("X-Forwarded-Email"))
	})
}
