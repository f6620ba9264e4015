package gateway

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/accounts"
)

// Helpers of the end-to-end tests of protected routes (protect_test.go,
// protect_assertion_test.go, protect_path_test.go, protect_ws_test.go,
// browser_test.go). Names start with "p" so that they stay apart from the
// other gateway tests' helpers.

// pSeen is one request as the recording backend received it.
type pSeen struct {
	Method     string
	RequestURI string // as written on the wire by the gateway
	Path       string // r.URL.EscapedPath()
	Header     http.Header
	Cookies    []*http.Cookie
}

// pBackend is a real upstream that records every request it receives. It
// answers HTML to browsers (showing the identity headers), JSON to anyone
// else, accepts WebSocket upgrades (echoing one frame), and on any path
// ending in /set-cookie tries to set the gateway's own cookies.
type pBackend struct {
	srv *httptest.Server

	mu   sync.Mutex
	seen []pSeen
}

// pIdentityHeaders are the identity headers the tests' configs use (the
// defaults), plus the assertion header some of them turn on.
var pIdentityHeaders = []string{"X-Auth-User-Id", "X-Auth-User", "X-Auth-Email", "X-Auth-Roles", "X-Auth-Jwt"}

// pGatewayCookies are the gateway's cookies with auth_api.cookie_name
// authgate.
var pGatewayCookies = []string{"__Host-authgate", "__Secure-authgate-refresh", "__Host-authgate-csrf"}

func pStartBackend(t testing.TB) *pBackend {
	t.Helper()
	b := &pBackend{}
	b.srv = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(b.srv.Close)
	return b
}

// URL is the backend's base URL, for a route's upstream.
func (b *pBackend) URL() string { return b.srv.URL }

func (b *pBackend) serve(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	b.seen = append(b.seen, pSeen{
		Method:     r.Method,
		RequestURI: r.RequestURI,
		Path:       r.URL.EscapedPath(),
		Header:     r.Header.Clone(),
		Cookies:    r.Cookies(),
	})
	b.mu.Unlock()

	switch {
	case strings.EqualFold(r.Header.Get("Upgrade"), "websocket"):
		pServeWebSocket(w, r)
	case strings.HasSuffix(r.URL.Path, "/set-cookie"):
		for _, c := range pGatewayCookies {
			w.Header().Add("Set-Cookie", c+"=planted-by-upstream; Path=/; Secure; HttpOnly")
		}
		w.Header().Add("Set-Cookie", "app=2; Path=/")
		w.WriteHeader(http.StatusOK)
	case strings.Contains(r.Header.Get("Accept"), "text/html"):
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		var rows strings.Builder
		for _, name := range pIdentityHeaders {
			fmt.Fprintf(&rows, "<dt>%s</dt><dd id=%q>%s</dd>\n", name, strings.ToLower(name),
				html.EscapeString(r.Header.Get(name)))
		}
		fmt.Fprintf(w, `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>app</title></head>
<body><h1>app</h1>
<p id="request-uri">%s</p>
<dl>
%s</dl>
<p><a id="logout" href="/auth/logout">Sign out</a></p>
</body></html>
`, html.EscapeString(r.RequestURI), rows.String())
	default:
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"method": r.Method, "uri": r.RequestURI})
	}
}

// count is how many requests the backend has received.
func (b *pBackend) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.seen)
}

// since returns the requests received after the first n.
func (b *pBackend) since(n int) []pSeen {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]pSeen(nil), b.seen[n:]...)
}

// last returns the one request received after the first n, failing the
// test unless exactly one arrived.
func (b *pBackend) last(t testing.TB, n int) pSeen {
	t.Helper()
	got := b.since(n)
	if len(got) != 1 {
		t.Fatalf("backend received %d requests; want 1", len(got))
	}
	return got[0]
}

// pWebSocketGUID is RFC 6455 §1.3's magic value.
const pWebSocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func pWebSocketAccept(key string) string {
	sum := sha1.Sum([]byte(key + pWebSocketGUID))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// pServeWebSocket completes an RFC 6455 handshake by hand, echoes one
// frame and closes.
func pServeWebSocket(w http.ResponseWriter, r *http.Request) {
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
		pWebSocketAccept(r.Header.Get("Sec-WebSocket-Key")))
	if err := rw.Flush(); err != nil {
		return
	}
	op, payload, err := pReadFrame(rw.Reader)
	if err != nil {
		return
	}
	conn.Write(pFrame(op, payload, false))
}

// pFrame encodes a final WebSocket frame of up to 125 bytes; clients mask
// (RFC 6455 §5.3), servers do not.
func pFrame(op byte, payload []byte, mask bool) []byte {
	if len(payload) > 125 {
		panic("pFrame: payload too long for this test helper")
	}
	out := []byte{0x80 | op, byte(len(payload))}
	if !mask {
		return append(out, payload...)
	}
	key := [4]byte{0x1f, 0x2e, 0x3d, 0x4c}
	out[1] |= 0x80
	out = append(out, key[:]...)
	for i, c := range payload {
		out = append(out, c^key[i%4])
	}
	return out
}

// pReadFrame reads one short WebSocket frame, unmasking it if masked.
func pReadFrame(r *bufio.Reader) (op byte, payload []byte, err error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := int(h[1] & 0x7f)
	if n > 125 {
		return 0, nil, fmt.Errorf("frame length %d: longer than this test helper reads", n)
	}
	var key [4]byte
	masked := h[1]&0x80 != 0
	if masked {
		if _, err := io.ReadFull(r, key[:]); err != nil {
			return 0, nil, err
		}
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, err
	}
	if masked {
		for i := range payload {
			payload[i] ^= key[i%4]
		}
	}
	return h[0] & 0x0f, payload, nil
}

// pGateway is a gateway started by a test with tls.mode self_signed, a
// fresh SQLite database and the routes it was given.
type pGateway struct {
	*runningServer
	cfgFile string
	host    string // "localhost:PORT": what clients put in Host
	base    string // "https://localhost:PORT"
	roots   *x509.CertPool
	// client trusts the gateway's certificate, speaks HTTP/2 and never
	// follows redirects, so tests see every 302 and 303. client1 is the
	// same over HTTP/1.1.
	client, client1 *http.Client
}

// pConfig writes a config with routes (YAML list items, indented two
// spaces) and extra top-level YAML, in a new directory.
func pConfig(t testing.TB, routes, extra string) (dir, cfgFile string) {
	t.Helper()
	dir = t.TempDir()
	cfgFile = writeConfigIn(t, dir, fmt.Sprintf(`
listen:
  https: "127.0.0.1:0"
  http: ""
  ops: ""
tls:
  mode: self_signed
database:
  url: sqlite:%s
accounts:
  bcrypt_cost: 10
  registration: open
%s
routes:
%s
`, filepath.Join(dir, "authgate.db"), extra, routes))
	return dir, cfgFile
}

// pTokensHS256 is the tokens section of most tests.
const pTokensHS256 = "tokens:\n  secret: " + testSecret + "\n"

// pStartGateway starts the gateway of cfgFile (from pConfig).
func pStartGateway(t testing.TB, dir, cfgFile string) *pGateway {
	t.Helper()
	rs := startServer(t, cfgFile)
	_, port, err := net.SplitHostPort(rs.Addr("https").String())
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, err := os.ReadFile(filepath.Join(dir, "certs", "selfsigned.crt"))
	if err != nil {
		t.Fatalf("self-signed certificate: %v", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pemBytes) {
		t.Fatal("certs/selfsigned.crt holds no certificate")
	}
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
	g := &pGateway{
		runningServer: rs,
		cfgFile:       cfgFile,
		host:          "localhost:" + port,
		base:          "https://localhost:" + port,
		roots:         roots,
		client:        &http.Client{Transport: tr, Timeout: 30 * time.Second, CheckRedirect: noRedirect},
		client1:       &http.Client{Transport: tr1, Timeout: 30 * time.Second, CheckRedirect: noRedirect},
	}
	return g
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
