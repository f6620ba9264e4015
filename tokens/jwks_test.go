package tokens

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/problem"
	"github.com/golang-jwt/jwt/v5"
)

func TestJWKSHS256PublishesNothing(t *testing.T) {
	f := newFixture(t, AlgHS256)
	got := string(f.tokens.JWKS())
	if got != `{"keys":[]}` {
		t.Fatalf("JWKS() = %s; want {\"keys\":[]}", got)
	}
}

// publishedKey decodes one JWK with the standard library alone, so the
// test does not trust the code it checks.
func publishedKey(t *testing.T, m map[string]string) crypto.PublicKey {
	t.Helper()
	b := func(name string) []byte {
		v, err := base64.RawURLEncoding.Strict().DecodeString(m[name])
		if err != nil || len(v) == 0 {
			t.Fatalf("JWK member %q = %q is not base64url", name, m[name])
		}
		return v
	}
	switch m["kty"] {
	case "RSA":
		return &rsa.PublicKey{N: new(big.Int).SetBytes(b("n")), E: int(new(big.Int).SetBytes(b("e")).Int64())}
	case "EC":
		if m["crv"] != "P-256" {
			t.Fatalf("EC JWK crv = %q; want P-256", m["crv"])
		}
		k, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, b("x")...), b("y")...))
		if err != nil {
			t.Fatalf("EC JWK: %v", err)
		}
		return k
	case "OKP":
		if m["crv"] != "Ed25519" {
			t.Fatalf("OKP JWK crv = %q; want Ed25519", m["crv"])
		}
		return ed25519.PublicKey(b("x"))
	}
	t.Fatalf("JWK kty = %q", m["kty"])
	return nil
}

func TestJWKSPublishesVerifiableKeys(t *testing.T) {
	for _, alg := range asymmetric {
		t.Run(alg, func(t *testing.T) {
			f := newFixture(t, alg)
			var set struct {
				Keys []map[string]string `json:"keys"`
			}
			if err := json.Unmarshal(f.tokens.JWKS(), &set); err != nil {
				t.Fatalf("JWKS() is not JSON: %v", err)
			}
			if len(set.Keys) != 2 {
				t.Fatalf("JWKS() has %d keys; want the signing key and the verify key", len(set.Keys))
			}
			byKid := map[string]crypto.PublicKey{}
			for _, k := range set.Keys {
				for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
					if _, ok := k[private]; ok {
						t.Fatalf("JWKS() key %s publishes private member %q", k["kid"], private)
					}
				}
				if k["use"] != "sig" || k["alg"] != alg {
					t.Fatalf("JWKS() key use=%q alg=%q; want sig, %s", k["use"], k["alg"], alg)
				}
				byKid[k["kid"]] = publishedKey(t, k)
			}
			for kid, priv := range map[string]any{f.kid: f.signKey, f.rotKid: f.rotKey} {
				pub, ok := byKid[kid]
				if !ok {
					t.Fatalf("JWKS() lacks kid %s", kid)
				}
				if !sameKey(publicKey(priv), pub) {
					t.Fatalf("JWKS() key %s is not the configured key", kid)
				}
			}

			// A relying party that knows only the JWKS verifies our tokens.
			tok, _, err := f.tokens.Issue("42", IssueInput{SessionID: "s"})
			if err != nil {
				t.Fatal(err)
			}
			keyFunc := func(tok *jwt.Token) (any, error) {
				kid, _ := tok.Header["kid"].(string)
				if k, ok := byKid[kid]; ok {
					return k, nil
				}
				return nil, errors.New("unknown kid")
			}
			parsed, err := jwt.Parse(tok, keyFunc, jwt.WithValidMethods([]string{alg}), jwt.WithTimeFunc(func() time.Time { return f.now }))
			if err != nil || !parsed.Valid {
				t.Fatalf("jwt.Parse(token) with the published key = %v; want valid", err)
			}
			// A different key under the signing kid fails against the JWKS.
			h, c := f.base()
			forged := signWith(t, f.method, f.otherKey, h, c)
			if _, err := jwt.Parse(forged, keyFunc, jwt.WithValidMethods([]string{alg}), jwt.WithTimeFunc(func() time.Time { return f.now })); err == nil {
				t.Fatalf("jwt.Parse(forged) with the published key = nil; want an error")
			}
		})
	}
}

func TestParseJWK(t *testing.T) {
	ec := func(t *testing.T) jwk {
		j, _ := publicJWK(publicKey(readTestKey(t, testdataKey("ec256-b.pem"))))
		j.Kid = "ec"
		return j
	}
	rsaKey := func(t *testing.T, file string) jwk {
		j, _ := publicJWK(publicKey(readTestKey(t, testdataKey(file))))
		j.Kid = "rsa"
		return j
	}
	ed := func(t *testing.T) jwk {
		j, _ := publicJWK(publicKey(readTestKey(t, testdataKey("ed25519-b.pem"))))
		j.Kid = "ed"
		return j
	}
	tests := []struct {
		name    string
		alg     string
		key     func(t *testing.T) jwk
		wantErr bool
	}{
		{name: "ok-ec", alg: AlgES256, key: ec},
		{name: "ok-ec-use-sig-alg-es256", alg: AlgES256, key: func(t *testing.T) jwk { j := ec(t); j.Use, j.Alg = "sig", AlgES256; return j }},
		{name: "ok-rsa", alg: AlgRS256, key: func(t *testing.T) jwk { return rsaKey(t, "rsa2048-b.pem") }},
		{name: "ok-ed25519", alg: AlgEdDSA, key: ed},
		{name: "fail-no-kid", alg: AlgES256, key: func(t *testing.T) jwk { j := ec(t); j.Kid = ""; return j }, wantErr: true},
		{name: "fail-private-d", alg: AlgES256, key: func(t *testing.T) jwk { j := ec(t); j.D = "AAAA"; return j }, wantErr: true},
		{name: "fail-oct", alg: AlgES256, key: func(t *testing.T) jwk { return jwk{Kty: "oct", Kid: "s", K: "c2VjcmV0"} }, wantErr: true},
		{name: "fail-use-enc", alg: AlgES256, key: func(t *testing.T) jwk { j := ec(t); j.Use = "enc"; return j }, wantErr: true},
		{name: "fail-alg-mismatch", alg: AlgES256, key: func(t *testing.T) jwk { j := ec(t); j.Alg = "ES384"; return j }, wantErr: true},
		{name: "fail-wrong-kty-for-alg", alg: AlgES256, key: ed, wantErr: true},
		{name: "fail-ec-p384", alg: AlgES256, key: func(t *testing.T) jwk { j := ec(t); j.Crv = "P-384"; return j }, wantErr: true},
		{name: "fail-ec-not-on-curve", alg: AlgES256, key: func(t *testing.T) jwk {
			j := ec(t)
			j.Y = base64.RawURLEncoding.EncodeToString(make([]byte, 32))
			return j
		}, wantErr: true},
		{name: "fail-ec-padded-base64", alg: AlgES256, key: func(t *testing.T) jwk { j := ec(t); j.X += "="; return j }, wantErr: true},
		{name: "fail-rsa-1024", alg: AlgRS256, key: func(t *testing.T) jwk { return rsaKey(t, "rsa1024.pem") }, wantErr: true},
		{name: "fail-rsa-even-exponent", alg: AlgRS256, key: func(t *testing.T) jwk { j := rsaKey(t, "rsa2048-b.pem"); j.E = "AQAA"; return j }, wantErr: true},
		{name: "fail-rsa-missing-n", alg: AlgRS256, key: func(t *testing.T) jwk { j := rsaKey(t, "rsa2048-b.pem"); j.N = ""; return j }, wantErr: true},
		{name: "fail-okp-x25519", alg: AlgEdDSA, key: func(t *testing.T) jwk { j := ed(t); j.Crv = "X25519"; return j }, wantErr: true},
		{name: "fail-okp-short", alg: AlgEdDSA, key: func(t *testing.T) jwk { j := ed(t); j.X = j.X[:20]; return j }, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := tt.key(t)
			pub, err := parseJWK(tt.alg, j)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseJWK(%s, %+v) = %v, %v; wantErr %v", tt.alg, j, pub, err, tt.wantErr)
			}
		})
	}
}

// jwksServer serves a JWK Set that a test can change, over TLS.
type jwksServer struct {
	*httptest.Server
	body   atomic.Pointer[[]byte]
	status atomic.Int32
	hits   atomic.Int32
	hit    chan struct{} // one signal per request, dropped when full
}

func newJWKSServer(t *testing.T, body []byte) *jwksServer {
	t.Helper()
	s := &jwksServer{hit: make(chan struct{}, 1)}
	s.set(http.StatusOK, body)
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		select {
		case s.hit <- struct{}{}:
		default:
		}
		if code := int(s.status.Load()); code != http.StatusOK {
			http.Error(w, "unavailable", code)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Write(*s.body.Load())
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(status int, body []byte) {
	s.status.Store(int32(status))
	s.body.Store(&body)
}

// deployment is another issuer (say, the previous authgate cluster) whose
// JWKS URL is listed in verify_keys.
func deployment(t *testing.T, keyFile string) *AccessTokens {
	t.Helper()
	cfg := testConfig(t, AlgES256)
	cfg.PrivateKeyFile, cfg.VerifyKeys = keyFile, nil
	d, err := newTokens(cfg, Options{}, func(d *AccessTokens) { d.now = func() time.Time { return testNow } })
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// relying builds an ES256 AccessTokens that accepts the keys at url.
func relying(t *testing.T, client *http.Client, url string, log *bytes.Buffer) (*AccessTokens, error) {
	t.Helper()
	cfg := testConfig(t, AlgES256)
	cfg.VerifyKeys = []string{url}
	return newTokens(cfg, Options{}, func(a *AccessTokens) {
		a.now = func() time.Time { return testNow }
		a.client = client
		a.client.CheckRedirect = httpsOnlyRedirect
		a.log = slog.New(slog.NewTextHandler(log, nil))
	})
}

func TestVerifyKeysJWKSURLRotation(t *testing.T) {
	old := deployment(t, testdataKey("ec256-c.pem"))
	srv := newJWKSServer(t, old.JWKS())
	var log bytes.Buffer
	a, err := relying(t, srv.Client(), srv.URL+"/jwks.json", &log)
	if err != nil {
		t.Fatalf("newTokens with a JWKS URL = %v", err)
	}
	tok, _, err := old.Issue("42", IssueInput{SessionID: "s"})
	if err != nil {
		t.Fatal(err)
	}
	id, err := a.Verify(tok)
	if err != nil {
		t.Fatalf("Verify(token of the JWKS issuer) = %v; want nil", err)
	}
	if !strings.Contains(string(a.JWKS()), old.kid) {
		t.Fatalf("JWKS() = %s; want it to republish the verify_keys URL key %s", a.JWKS(), old.kid)
	}

	// A failed refresh keeps the keys, and the cached token with them.
	for _, fail := range []struct {
		status int
		body   string
	}{{http.StatusInternalServerError, ""}, {http.StatusOK, `{"keys":[]}`}, {http.StatusOK, `not json`}} {
		log.Reset()
		srv.set(fail.status, []byte(fail.body))
		a.refresh(context.Background())
		if again, err := a.Verify(tok); err != nil || again != id {
			t.Fatalf("after a failed refresh (%d %q), Verify = %p, %v; want the cached %p", fail.status, fail.body, again, err, id)
		}
		if !strings.Contains(log.String(), "JWKS refresh failed") {
			t.Fatalf("failed refresh (%d %q) logged %q; want a warning", fail.status, fail.body, log.String())
		}
	}

	// The issuer rotates: its JWKS now holds only its new key. The old
	// key's tokens stop working at once, cached or not.
	next := deployment(t, testdataKey("ec256-b.pem"))
	srv.set(http.StatusOK, next.JWKS())
	a.refresh(context.Background())
	if _, err := a.Verify(tok); !errors.Is(err, problem.ErrInvalidToken) {
		t.Fatalf("after the key left the JWKS, Verify(cached token) = %v; want problem.ErrInvalidToken", err)
	}
	if n := a.cache.size(); n != 0 {
		t.Fatalf("cache holds %d entries after a key was withdrawn; want 0", n)
	}
	newTok, _, err := next.Issue("42", IssueInput{SessionID: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Verify(newTok); err != nil {
		t.Fatalf("Verify(token of the rotated key) = %v; want nil", err)
	}
}

func TestVerifyKeysJWKSURLRefused(t *testing.T) {
	es := deployment(t, testdataKey("ec256-c.pem"))
	rsaOnly, _ := json.Marshal(map[string]any{"keys": []jwk{func() jwk {
		j, _ := publicJWK(publicKey(readTestKey(t, testdataKey("rsa2048-b.pem"))))
		j.Kid = "rsa"
		return j
	}()}})
	// Plain HTTP serving a good set: only the https-only redirect policy
	// keeps the fetch from taking it.
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(es.JWKS()) }))
	t.Cleanup(plain.Close)
	tests := []struct {
		name   string
		status int
		body   []byte
		path   string
	}{
		{name: "fail-not-found", status: http.StatusNotFound, path: "/jwks.json"},
		{name: "fail-not-json", status: http.StatusOK, body: []byte("<html>"), path: "/jwks.json"},
		{name: "fail-no-usable-key", status: http.StatusOK, body: rsaOnly, path: "/jwks.json"},
		{name: "fail-empty-set", status: http.StatusOK, body: []byte(`{"keys":[]}`), path: "/jwks.json"},
		{name: "fail-too-large", status: http.StatusOK, body: append(bytes.Repeat([]byte(" "), maxJWKSBytes), es.JWKS()...), path: "/jwks.json"},
		{name: "fail-redirect-to-http", status: http.StatusOK, body: es.JWKS(), path: "/redirect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/redirect" {
					http.Redirect(w, r, plain.URL+"/jwks.json", http.StatusFound)
					return
				}
				if tt.status != http.StatusOK {
					http.Error(w, "no", tt.status)
					return
				}
				w.Write(tt.body)
			}))
			t.Cleanup(srv.Close)
			_, err := relying(t, srv.Client(), srv.URL+tt.path, new(bytes.Buffer))
			if got := problemPaths(t, err); !slices.Equal(got, []string{"tokens.verify_keys[0]"}) {
				t.Fatalf("newTokens = %v; want a problem at tokens.verify_keys[0]", err)
			}
		})
	}
	t.Run("fail-unreachable", func(t *testing.T) {
		srv := newJWKSServer(t, es.JWKS())
		url := srv.URL + "/jwks.json"
		srv.Close()
		_, err := relying(t, srv.Client(), url, new(bytes.Buffer))
		if got := problemPaths(t, err); !slices.Equal(got, []string{"tokens.verify_keys[0]"}) {
			t.Fatalf("newTokens = %v; want a problem at tokens.verify_keys[0]", err)
		}
	})
}

func TestRunRefreshesUntilCancelled(t *testing.T) {
	old := deployment(t, testdataKey("ec256-c.pem"))
	srv := newJWKSServer(t, old.JWKS())
	cfg := testConfig(t, AlgES256)
	cfg.VerifyKeys = []string{srv.URL}
	a, err := newTokens(cfg, Options{}, func(a *AccessTokens) {
		a.client = srv.Client()
		a.refreshEvery = time.Millisecond
		a.log = slog.New(slog.DiscardHandler)
	})
	if err != nil {
		t.Fatal(err)
	}
	<-srv.hit // the fetch at construction
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	<-srv.hit // a refresh by Run
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run() = %v after cancel; want nil", err)
	}
}

func TestRunWithoutURLsWaitsForContext(t *testing.T) {
	f := newFixture(t, AlgEdDSA)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.tokens.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run() = %v; want nil", err)
	}
}

// TestLogsToTheConfiguredLogger: the JWKS refresh reports through the
// logger it is given (the gateway's, with its format and level), never
// through slog.Default, which it once used whatever the gateway had
// configured.
func TestLogsToTheConfiguredLogger(t *testing.T) {
	var fallback, configured bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&fallback, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })

	old := deployment(t, testdataKey("ec256-c.pem"))
	srv := newJWKSServer(t, old.JWKS())
	cfg := testConfig(t, AlgES256)
	cfg.VerifyKeys = []string{srv.URL + "/jwks.json"}
	a, err := newTokens(cfg, Options{Logger: slog.New(slog.NewTextHandler(&configured, nil))}, func(a *AccessTokens) {
		a.client = srv.Client()
		a.client.CheckRedirect = httpsOnlyRedirect
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.set(http.StatusServiceUnavailable, nil)
	a.refresh(context.Background())
	if !strings.Contains(configured.String(), "JWKS refresh failed") {
		t.Errorf("configured logger got %q; want the refresh warning", configured.String())
	}
	if fallback.Len() != 0 {
		t.Errorf("slog.Default got %q; want nothing", fallback.String())
	}
}
