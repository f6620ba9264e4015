package gateway

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const (
	oWebRedirect = "https://app.example.test/callback"
	oSPARedirect = "http://127.0.0.1:8765/cb"
)

// oClients are the clients of the negative tests and of client_credentials.
func oClients(string) string {
	return oClient("webapp", false, true, []string{"authorization_code", "refresh_token"}, []string{oWebRedirect}, nil) +
		oClient("other", false, true, []string{"authorization_code"}, []string{"https://other.example.test/cb"}, nil) +
		oClient("spa", true, true, []string{"authorization_code"}, []string{oSPARedirect}, nil) +
		oClient("svc", false, false, []string{"client_credentials"}, nil, []string{"reports"}) +
		oClient("plain", false, false, []string{"client_credentials"}, nil, nil) +
		oClient("legacy", false, false, []string{"password", "refresh_token"}, nil, nil)
}

// TestOAuth2ClientCredentialsPassesRoleRoute: a service account's token,
// from the token endpoint, is an authgate access token (typ at+jwt) that
// a role-protected route accepts like a user's, with the client as the
// user the upstream is told about; a client without the role gets 403.
func TestOAuth2ClientCredentialsPassesRoleRoute(t *testing.T) {
	b := newBackend(t, "reports")
	o := oStart(t, oClients, "  - {name: reports, path: /reports, auth: required, roles: [reports], upstream: "+b.URL+"}\n", "")

	disc := o.send(t, mustRequest(t, http.MethodGet, o.base+"/.well-known/openid-configuration"))
	if disc.status != http.StatusOK || disc.str("issuer") != o.issuer || disc.str("token_endpoint") != o.issuer+"/auth/oauth2/token" {
		t.Fatalf("discovery = %d %s; want issuer %s", disc.status, disc.raw, o.issuer)
	}

	tok := o.post(t, "/auth/oauth2/token", "svc", oSecret, url.Values{"grant_type": {"client_credentials"}})
	access := tok.str("access_token")
	if tok.status != http.StatusOK || access == "" || tok.body["refresh_token"] != nil || tok.body["id_token"] != nil {
		t.Fatalf("client_credentials = %d %s; want an access token only", tok.status, tok.raw)
	}
	header, _ := base64.RawURLEncoding.DecodeString(strings.Split(access, ".")[0])
	var h struct{ Typ string }
	json.Unmarshal(header, &h)
	if h.Typ != "at+jwt" {
		t.Errorf("token typ = %q; want at+jwt", h.Typ)
	}
	resp := o.do(t, http.MethodGet, "/reports/q1", nil, [2]string{"Authorization", "Bearer " + access})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /reports with the service token = %d %s; want 200", resp.StatusCode, resp.body)
	}
	if got := b.last(t).Header; got.Get("X-Auth-User-Id") != "svc" || got.Get("X-Auth-Roles") != "reports" {
		t.Errorf("upstream saw user %q roles %q; want svc, reports", got.Get("X-Auth-User-Id"), got.Get("X-Auth-Roles"))
	}

	plain := o.post(t, "/auth/oauth2/token", "plain", oSecret, url.Values{"grant_type": {"client_credentials"}})
	resp = o.do(t, http.MethodGet, "/reports/q1", nil, [2]string{"Authorization", "Bearer " + plain.str("access_token")})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET /reports with a token without the role = %d; want 403", resp.StatusCode)
	}

	// Revoked (RFC 7009): the route refuses it from then on.
	if rv := o.post(t, "/auth/oauth2/revoke", "svc", oSecret, url.Values{"token": {access}}); rv.status != http.StatusOK {
		t.Fatalf("revoke = %d %s; want 200", rv.status, rv.raw)
	}
	resp = o.do(t, http.MethodGet, "/reports/q1", nil, [2]string{"Authorization", "Bearer " + access})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /reports with the revoked token = %d; want 401", resp.StatusCode)
	}
}

func mustRequest(t *testing.T, method, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
