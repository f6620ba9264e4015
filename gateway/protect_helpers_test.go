package gateway

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/accounts"
)

// Helpers of the end-to-end tests of protected routes (protect_test.go,
// protect_assertion_test.go, protect_path_test.go, protect_ws_test.go,
// browser_test.go). Names start with "p" so that they stay apart from the
// other gateway tests' helpers.

// pGateway is a gateway started by a protect test (tls.mode self_signed,
// a fresh SQLite database), with the clients those tests use, which name
// it localhost.
type pGateway struct {
	*runningServer
	gw      *testGateway
	cfgFile string
	host    string // "localhost:PORT": what clients put in Host
	base    string // "https://localhost:PORT"
	roots   *x509.CertPool
	// client trusts the gateway's certificate, speaks HTTP/2 and never
	// follows redirects, so tests see every 302 and 303. client1 is the
	// same over HTTP/1.1.
	client, client1 *http.Client
}

// pConfig writes, in a new testGateway, a config with routes (YAML list
// items) after extra top-level YAML.
func pConfig(t testing.TB, routes, extra string) (*testGateway, string) {
	t.Helper()
	g := newTestGateway(t)
	return g, g.write(extra + "routes:\n" + routes)
}

// pStartGateway starts the gateway of cfgFile, written by g.
func pStartGateway(t testing.TB, g *testGateway, cfgFile string) *pGateway {
	t.Helper()
	rs := g.run(cfgFile)
	port := strconv.Itoa(g.port("https"))
	roots := g.roots()
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots},
		ForceAttemptHTTP2: true,
	}
	tr1 := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots},
		TLSNextProto:    map[string]func(string, *tls.Conn) http.RoundTripper{}, // no HTTP/2
	}
	t.Cleanup(tr.CloseIdleConnections)
	t.Cleanup(tr1.CloseIdleConnections)
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &pGateway{
		runningServer: rs,
		gw:            g,
		cfgFile:       cfgFile,
		host:          "localhost:" + port,
		base:          "https://localhost:" + port,
		roots:         roots,
		client:        &http.Client{Transport: tr, Timeout: 30 * time.Second, CheckRedirect: noRedirect},
		client1:       &http.Client{Transport: tr1, Timeout: 30 * time.Second, CheckRedirect: noRedirect},
	}
}

// pAdmin runs fn with an account service of its own on cfgFile's
// database, as the `authgate user` commands do: the running gateway learns
// of what fn changes only through the database.
func pAdmin(t testing.TB, cfgFile string, fn func(context.Context, *accounts.Service) error) {
	t.Helper()
	cfg, err := Load(cfgFile)
	if err != nil {
		t.Fatalf("Load(%s): %v", cfgFile, err)
	}
	ctx := context.Background()
	admin, err := OpenAccounts(ctx, cfg, nil)
	if err != nil {
		t.Fatalf("OpenAccounts: %v", err)
	}
	defer admin.Close()
	if err := fn(ctx, admin); err != nil {
		t.Fatalf("admin: %v", err)
	}
}

// pAddUser creates a user through the admin path (what `authgate user add`
// does).
func pAddUser(t testing.TB, cfgFile string, nu accounts.NewUser) *accounts.User {
	t.Helper()
	var u *accounts.User
	pAdmin(t, cfgFile, func(ctx context.Context, admin *accounts.Service) (err error) {
		u, err = admin.AddUser(ctx, nu)
		return err
	})
	return u
}

// pResponse is a response with its body read.
type pResponse struct {
	*http.Response
	body []byte
}

// do sends a request to the gateway over HTTP/2. hdr values are added in
// order, so a header may be given twice.
func (g *pGateway) do(t testing.TB, method, path string, body io.Reader, hdr ...[2]string) pResponse {
	t.Helper()
	return g.doWith(t, g.client, method, path, body, hdr...)
}

// doWith is do with the given client.
func (g *pGateway) doWith(t testing.TB, client *http.Client, method, path string, body io.Reader, hdr ...[2]string) pResponse {
	t.Helper()
	req, err := http.NewRequest(method, g.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hdr {
		req.Header.Add(h[0], h[1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return pResponse{resp, b}
}

// postJSON posts v as JSON and decodes a 2xx answer into out.
func (g *pGateway) postJSON(t testing.TB, path string, v, out any, hdr ...[2]string) pResponse {
	t.Helper()
	b, _ := json.Marshal(v)
	resp := g.do(t, http.MethodPost, path, bytes.NewReader(b), append(hdr, [2]string{"Content-Type", "application/json"})...)
	if out != nil && resp.StatusCode/100 == 2 {
		if err := json.Unmarshal(resp.body, out); err != nil {
			t.Fatalf("POST %s: decoding %s: %v", path, resp.body, err)
		}
	}
	return resp
}

// pUser is an account the tests registered, with its id as the identity
// headers carry it.
type pUser struct {
	ID       string
	Username string
	Email    string
	Password string
	Roles    string // X-Auth-Roles
}

// register creates u through POST /auth/register.
func (g *pGateway) register(t testing.TB, username string) pUser {
	t.Helper()
	u := pUser{Username: username, Email: username + "@example.com", Password: "correct-horse-battery-" + username}
	var created struct {
		ID int64 `json:"id"`
	}
	resp := g.postJSON(t, "/auth/register", map[string]string{
		"username": u.Username, "email": u.Email, "password": u.Password,
	}, &created)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /auth/register %s = %d %s; want 201", username, resp.StatusCode, resp.body)
	}
	u.ID = fmt.Sprint(created.ID)
	return u
}

// pTokens is the answer of POST /auth/login.
type pTokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

// login opens a new session for u through POST /auth/login.
func (g *pGateway) login(t testing.TB, u pUser) pTokens {
	t.Helper()
	var tok pTokens
	resp := g.postJSON(t, "/auth/login", map[string]string{"username": u.Username, "password": u.Password}, &tok)
	if resp.StatusCode != http.StatusOK || tok.AccessToken == "" {
		t.Fatalf("POST /auth/login %s = %d %s; want 200 with tokens", u.Username, resp.StatusCode, resp.body)
	}
	return tok
}

// logout ends the session of access through POST /auth/logout.
func (g *pGateway) logout(t testing.TB, access string) {
	t.Helper()
	resp := g.do(t, http.MethodPost, "/auth/logout", nil, [2]string{"Authorization", "Bearer " + access})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /auth/logout = %d %s; want 200", resp.StatusCode, resp.body)
	}
}

// pProblem is an RFC 9457 problem document as the gateway writes it.
type pProblem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

// checkProblem checks that resp is a problem document for its status.
func (resp pResponse) checkProblem(t testing.TB) {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q; want application/problem+json", ct)
	}
	var p pProblem
	if err := json.Unmarshal(resp.body, &p); err != nil {
		t.Fatalf("problem body %q: %v", resp.body, err)
	}
	if p.Status != resp.StatusCode || p.Title != http.StatusText(resp.StatusCode) || p.Detail == "" || p.Type == "" {
		t.Errorf("problem = %+v; want status %d, its title, a type and a detail", p, resp.StatusCode)
	}
}

// rawRequest writes request (a whole HTTP/1.1 request, CRLFs included)
// on a new TLS connection to the gateway, exactly as given: no client
// library cleans or re-encodes the path. It returns the response with
// its body read.
func (g *pGateway) rawRequest(t testing.TB, request string) pResponse {
	t.Helper()
	conn := g.dialTLS(t)
	defer conn.Close()
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatalf("writing the request: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the response to %q: %v", request, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return pResponse{resp, b}
}

// dialTLS opens an HTTP/1.1 TLS connection to the gateway.
func (g *pGateway) dialTLS(t testing.TB) *tls.Conn {
	t.Helper()
	d := &net.Dialer{Timeout: 10 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", g.Addr("https").String(), &tls.Config{
		RootCAs: g.roots, ServerName: "localhost", NextProtos: []string{"http/1.1"},
	})
	if err != nil {
		t.Fatalf("TLS dial: %v", err)
	}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	return conn
}

// pExpire returns token (an HS256 access token of ours) with exp, nbf and
// iat an hour or more in the past, signed again with secret: a token that
// is ours in every respect but its lifetime. (The clock of authn's token
// issuer is not reachable from this package, and waiting out access_ttl
// plus the 5 s leeway would make the test slow.)
func pExpire(t testing.TB, token string, secret []byte) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a compact JWS", token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	claims["iat"], claims["nbf"], claims["exp"] = now-7200, now-7200, now-3600
	payload, _ := json.Marshal(claims)
	signing := parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// pTamper flips one character in the middle of token's signature. (The
// last character may carry padding bits that decoding ignores, so it is
// left alone.)
func pTamper(token string) string {
	i := strings.LastIndexByte(token, '.') + 10
	b := []byte(token)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}
