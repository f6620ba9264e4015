package federation

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// fakeIdP is an OpenID provider for the tokens mockoidc cannot make: it
// mints each ID token from claims the test shapes, signed however the test
// says (another key, alg none, HS256 with the client secret). Its key is a
// test RSA key published at its JWKS.
type fakeIdP struct {
	*httptest.Server
	key *rsa.PrivateKey

	clientID, clientSecret string

	mu            sync.Mutex
	algs          []string                   // advertised id_token_signing_alg_values_supported
	claims        map[string]any             // the user's claims
	shape         func(c jwt.MapClaims)      // changes the ID token's claims
	sign          func(jwt.MapClaims) string // signs instead of the provider key
	userinfo      map[string]any             // nil: no userinfo endpoint
	refuse        bool                       // refresh answers invalid_grant
	jwksDown      bool                       // the JWKS endpoint answers 503
	discoveryDown bool                       // discovery answers 503
	lastNonce     string
	refreshSeen   int
}

func startFakeIdP(t *testing.T) *fakeIdP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &fakeIdP{
		key: key, clientID: "fake-client", clientSecret: "fake-secret-0123456789",
		algs:   []string{"RS256"},
		claims: map[string]any{"sub": "fake-1", "email": "ann@example.com", "email_verified": true, "groups": []any{"staff"}},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("GET /jwks", p.jwks)
	mux.HandleFunc("GET /userinfo", p.userinfoHandler)
	p.Server = httptest.NewServer(mux)
	t.Cleanup(p.Close)
	return p
}

func (p *fakeIdP) provider(name string) ProviderConfig {
	return ProviderConfig{
		Name: name, Type: TypeOIDC, Issuer: p.URL,
		ClientID: p.clientID, ClientSecret: p.clientSecret,
		RolesClaim: "groups",
	}
}

func (p *fakeIdP) set(f func(p *fakeIdP)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(p)
}

func (p *fakeIdP) discovery(w http.ResponseWriter, _ *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.discoveryDown {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	doc := map[string]any{
		"issuer":                                p.URL,
		"authorization_endpoint":                p.URL + "/authorize",
		"token_endpoint":                        p.URL + "/token",
		"jwks_uri":                              p.URL + "/jwks",
		"end_session_endpoint":                  p.URL + "/logout?tenant=t1",
		"id_token_signing_alg_values_supported": p.algs,
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
	}
	if p.userinfo != nil {
		doc["userinfo_endpoint"] = p.URL + "/userinfo"
	}
	json.NewEncoder(w).Encode(doc)
}

// authorize signs the user in at once and sends the browser back.
func (p *fakeIdP) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p.mu.Lock()
	p.lastNonce = q.Get("nonce")
	p.mu.Unlock()
	back, _ := url.Parse(q.Get("redirect_uri"))
	back.RawQuery = url.Values{"code": {"fake-code-" + rand.Text()}, "state": {q.Get("state")}}.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func (p *fakeIdP) token(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	p.mu.Lock()
	defer p.mu.Unlock()
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	w.Header().Set("Content-Type", "application/json")
	if id != p.clientID || secret != p.clientSecret {
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"error":"invalid_client"}`))
		return
	}
	nonce := p.lastNonce
	if r.PostForm.Get("grant_type") == "refresh_token" {
		p.refreshSeen++
		if p.refuse {
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":"invalid_grant","error_description":"token ` + r.PostForm.Get("refresh_token") + ` revoked"}`))
			return
		}
		nonce = ""
	}
	json.NewEncoder(w).Encode(map[string]any{
		"access_token": "fake-at-" + rand.Text(), "token_type": "Bearer", "expires_in": 300,
		"refresh_token": "fake-rt-" + rand.Text(), "id_token": p.idToken(nonce),
	})
}

// idToken mints the user's ID token (mu held).
func (p *fakeIdP) idToken(nonce string) string {
	now := time.Now()
	c := jwt.MapClaims{
		"iss": p.URL, "aud": p.clientID, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
	}
	if nonce != "" {
		c["nonce"] = nonce
	}
	for k, v := range p.claims {
		c[k] = v
	}
	if p.shape != nil {
		p.shape(c)
	}
	if p.sign != nil {
		return p.sign(c)
	}
	return p.signRS256(c, p.key)
}

func (p *fakeIdP) signRS256(c jwt.MapClaims, key *rsa.PrivateKey) string {
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = "k1"
	s, err := tok.SignedString(key)
	if err != nil {
		panic(err)
	}
	return s
}

func (p *fakeIdP) jwks(w http.ResponseWriter, _ *http.Request) {
	p.mu.Lock()
	down := p.jwksDown
	p.mu.Unlock()
	if down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	b64 := base64.RawURLEncoding.EncodeToString
	json.NewEncoder(w).Encode(map[string]any{"keys": []any{map[string]any{
		"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
		"n": b64(p.key.N.Bytes()), "e": b64(big.NewInt(int64(p.key.E)).Bytes()),
	}}})
}

func (p *fakeIdP) userinfoHandler(w http.ResponseWriter, _ *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	json.NewEncoder(w).Encode(p.userinfo)
}
