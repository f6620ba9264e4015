package provider

import (
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// thirdSecret is a client secret kept as a bcrypt hash, thirdHash.
const thirdSecret = "th1rd-s3cret-0123456789-abcdefghijklmno"

// thirdHash is thirdSecret's bcrypt hash, made once: at cost 10 under the
// race detector it takes long enough to slow every test down.
var thirdHash = sync.OnceValues(func() ([]byte, error) {
	return bcrypt.GenerateFromPassword([]byte(thirdSecret), 10)
})

func TestClientSecret(t *testing.T) {
	plain := strings.Repeat("0123456789abcdef", 2)
	// MinCost keeps the test quick; validation would refuse it, so the
	// clients are built without NewClient.
	hash, err := bcrypt.GenerateFromPassword([]byte(plain), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	mk := func(secret string, public bool) *Client {
		c := &Client{ID: "c", Public: public}
		if !public {
			c.secret = newSecret(secret)
		}
		return c
	}
	tests := []struct {
		name   string
		client *Client
		given  string
		want   bool
	}{
		{name: "ok-plain", client: mk(plain, false), given: plain, want: true},
		{name: "fail-plain-wrong", client: mk(plain, false), given: plain[:31] + "x", want: false},
		{name: "fail-plain-prefix", client: mk(plain, false), given: plain[:16], want: false},
		{name: "fail-plain-empty", client: mk(plain, false), given: "", want: false},
		{name: "ok-bcrypt", client: mk(string(hash), false), given: plain, want: true},
		{name: "fail-bcrypt-wrong", client: mk(string(hash), false), given: plain + "x", want: false},
		{name: "fail-bcrypt-hash-itself", client: mk(string(hash), false), given: string(hash), want: false},
		{name: "fail-public", client: mk("", true), given: "", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.client.CheckSecret(tt.given); got != tt.want {
				t.Fatalf("CheckSecret(%q) = %v; want %v", tt.given, got, tt.want)
			}
		})
	}
	// A bcrypt match is remembered; a wrong secret still fails after it.
	c := mk(string(hash), false)
	if !c.CheckSecret(plain) || !c.CheckSecret(plain) || c.CheckSecret(plain+"y") {
		t.Fatal("bcrypt secret: remembered match or later mismatch answered wrongly")
	}
}

func TestNewClientBcrypt(t *testing.T) {
	hash, err := thirdHash()
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(ClientConfig{ID: "c", Secret: string(hash), Grants: []string{"authorization_code"},
		RedirectURIs: []string{"https://c.example.test/cb"}})
	if err != nil || !c.CheckSecret(thirdSecret) {
		t.Fatalf("NewClient with a bcrypt secret: %v; or its secret does not match", err)
	}
}

func TestNewClientRefusesInvalid(t *testing.T) {
	if _, err := NewClient(ClientConfig{ID: "c", Public: true, Grants: []string{"password"}}); err == nil {
		t.Fatal("NewClient accepted a public client with the password grant")
	}
	if _, err := NewStaticClients([]ClientConfig{
		{ID: "c", Public: true, Grants: []string{"authorization_code"}, RedirectURIs: []string{"https://c.example.test/cb"}},
		{ID: "c", Public: true, Grants: []string{"authorization_code"}, RedirectURIs: []string{"https://c.example.test/cb"}},
	}); err == nil {
		t.Fatal("NewStaticClients accepted a client id twice")
	}
}
