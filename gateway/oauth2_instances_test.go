package gateway

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testenv"
)

// TestOAuth2IntrospectionAfterLogoutElsewhere: two instances on one
// PostgreSQL database and one Redis. A token issued by the first is
// active at the second's introspection endpoint until the user logs out
// at the first; from then on the second says active: false as soon as
// the revocation reaches its denylist mirror (Redis pub/sub). The test
// measures how soon, and logs it; the bound it asserts is only a guard.
func TestOAuth2IntrospectionAfterLogoutElsewhere(t *testing.T) {
	dbURL := testenv.PostgresURL(t)
	redisURL, prefix := testenv.RedisURL(t)
	extra := fmt.Sprintf("redis:\n  url: %s\n  key_prefix: %q\n", redisURL, prefix)
	routes := "  - {name: app, path: /app, auth: required, upstream: \"builtin:echo\"}\n"

	ga := newTestGateway(t)
	ga.dbURL = dbURL
	a := oStartOn(t, ga, oClients, routes, extra)

	// The second instance: same database, Redis, key, issuer and clients.
	gb := newTestGateway(t)
	gb.dbURL = dbURL
	gb.tokens = oTokens(a.keyFile, a.issuer)
	b := &oGateway{pGateway: pStartGateway(t, gb, gb.write(extra+"oauth2:\n  enabled: true\n  clients:\n"+oClients("")+"routes:\n"+routes)),
		issuer: a.issuer, keyFile: a.keyFile}

	alice := a.register(t, "alice")
	introspect := func(token string) bool {
		r := b.post(t, "/auth/oauth2/introspect", "svc", oSecret, url.Values{"token": {token}})
		if r.status != http.StatusOK {
			t.Fatalf("introspect at the second instance = %d %s; want 200", r.status, r.raw)
		}
		active, _ := r.body["active"].(bool)
		return active
	}

	var took []time.Duration
	for range 5 {
		tok := a.post(t, "/auth/oauth2/token", "legacy", oSecret, url.Values{"grant_type": {"password"},
			"username": {alice.Username}, "password": {alice.Password}, "scope": {"openid"}})
		access := tok.str("access_token")
		if tok.status != http.StatusOK || access == "" {
			t.Fatalf("password grant at the first instance = %d %s; want tokens", tok.status, tok.raw)
		}
		if !introspect(access) {
			t.Fatal("a fresh token is inactive at the second instance")
		}
		a.logout(t, access)
		start := time.Now()
		deadline := start.Add(30 * time.Second) // a guard, not the measurement
		for introspect(access) {
			if time.Now().After(deadline) {
				t.Fatal("the second instance still says active 30 s after the logout")
			}
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	t.Logf("introspection at the other instance said active:false %v after the logout returned (5 runs, sorted; median %v, max %v)",
		took, took[len(took)/2], took[len(took)-1])
}
