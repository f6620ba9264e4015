package gateway

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/authgate/authgate/tokens"
)

// Helpers of the OAuth2 provider's end-to-end tests (oauth2_*_test.go).
// Names start with "o".

// oGateway is a gateway serving the OAuth2 provider, whose issuer is its
// own https URL, https://localhost:PORT.
type oGateway struct {
	*pGateway
	issuer  string
	keyFile string // the ES256 key: tokens.private_key_file
	extra   string // top-level YAML besides oauth2 and routes
	routes  string
}

// oSecret is the test clients' secret (32 characters and more).
const oSecret = "client-secret-0123456789abcdefghijklmnop"

// oTokens is the tokens section of an oGateway: ES256, the key in dir.
func oTokens(keyFile, issuer string) string {
	return fmt.Sprintf("  algorithm: ES256\n  private_key_file: %s\n  issuer: %s\n", keyFile, issuer)
}

// oStart starts a gateway whose issuer is its own URL. The port is known
// only once it listens: a first start without the provider learns it,
// then the gateway restarts on the same ports with the provider on and
// clients(issuer) (YAML list items under oauth2.clients).
func oStart(t *testing.T, clients func(issuer string) string, routes, extra string) *oGateway {
	t.Helper()
	g := newTestGateway(t)
	return oStartOn(t, g, clients, routes, extra)
}

func oStartOn(t *testing.T, g *testGateway, clients func(issuer string) string, routes, extra string) *oGateway {
	t.Helper()
	keyFile := filepath.Join(g.dir, "signing.pem")
	pem, err := tokens.Keygen("ES256")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, keyFile, []byte(pem))
	g.tokens = oTokens(keyFile, "https://localhost")
	first := g.run(g.write(extra + "routes:\n" + routes))
	port := g.port("https")
	if err := first.stop(); err != nil {
		t.Fatal(err)
	}
	o := &oGateway{issuer: "https://localhost:" + strconv.Itoa(port), keyFile: keyFile, extra: extra, routes: routes}
	g.samePorts = true
	o.restart(t, g, clients(o.issuer))
	return o
}

// restart stops the running gateway, if any, and starts it again on the
// same ports with clients.
func (o *oGateway) restart(t *testing.T, g *testGateway, clients string) {
	t.Helper()
	if o.pGateway != nil {
		if err := o.runningServer.stop(); err != nil {
			t.Fatal(err)
		}
	}
	g.tokens = oTokens(o.keyFile, o.issuer)
	cfg := g.write(o.extra + "oauth2:\n  enabled: true\n  clients:\n" + clients + "routes:\n" + o.routes)
	o.pGateway = pStartGateway(t, g, cfg)
}

// oClient is one oauth2.clients item.
func oClient(id string, public, firstParty bool, grants, redirects, roles []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "    - id: %s\n", id)
	if public {
		b.WriteString("      public: true\n")
	} else {
		fmt.Fprintf(&b, "      secret: %s\n", oSecret)
	}
	if firstParty {
		b.WriteString("      first_party: true\n")
	}
	list := func(key string, v []string) {
		if len(v) > 0 {
			q := make([]string, len(v))
			for i, s := range v {
				q[i] = strconv.Quote(s)
			}
			fmt.Fprintf(&b, "      %s: [%s]\n", key, strings.Join(q, ", "))
		}
	}
	list("grants", grants)
	list("redirect_uris", redirects)
	list("roles", roles)
	return b.String()
}

// oResponse is a decoded JSON answer of the provider.
type oResponse struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (r oResponse) str(key string) string { s, _ := r.body[key].(string); return s }

// post sends a form to path, with the client's credentials in Basic
// authentication when id is not "".
func (o *oGateway) post(t *testing.T, path, id, secret string, form url.Values) oResponse {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, o.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	return o.send(t, req)
}

func (o *oGateway) send(t *testing.T, req *http.Request) oResponse {
	t.Helper()
	resp, err := o.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := oResponse{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	json.Unmarshal(raw, &out.body)
	return out
}

// authorize asks the authorization endpoint with the browser cookie
// session (an access token), and returns its answer's Location.
func (o *oGateway) authorize(t *testing.T, session string, q url.Values) (int, *url.URL) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, o.base+"/auth/oauth2/authorize?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if session != "" {
		req.Header.Set("Cookie", "__Host-authgate="+session)
	}
	resp, err := o.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	return resp.StatusCode, loc
}

// oPKCE is a code verifier and its S256 challenge (RFC 7636 §4.2).
func oPKCE(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

const oVerifier = "verifier-0123456789-0123456789-0123456789-0123456789"

// oAuthorizeQuery is a code-flow request of client for redirect.
func oAuthorizeQuery(client, redirect, challenge string) url.Values {
	q := url.Values{"response_type": {"code"}, "client_id": {client}, "redirect_uri": {redirect},
		"scope": {"openid profile email roles"}, "state": {"st-1"}, "nonce": {"n-1"}}
	if challenge != "" {
		q.Set("code_challenge", challenge)
		q.Set("code_challenge_method", "S256")
	}
	return q
}
