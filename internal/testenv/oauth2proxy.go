package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// OAuth2ProxyVersion is the oauth2-proxy the provider's interop tests run:
// a real OIDC client nobody here wrote. It is built from the Go module
// proxy into a temporary GOBIN and never enters authgate's go.mod.
const OAuth2ProxyVersion = "v7.15.6"

var oauth2Proxy = GoTool{Install: "github.com/oauth2-proxy/oauth2-proxy/v7@" + OAuth2ProxyVersion}

// OAuth2ProxyConfig is how one oauth2-proxy is run: as an OIDC client of
// Issuer, in front of Upstream.
type OAuth2ProxyConfig struct {
	Issuer       string // the OIDC issuer; its discovery document must answer at start
	CAFile       string // PEM CA that signed the issuer's certificate ("" = system roots)
	ClientID     string
	ClientSecret string
	Upstream     string // the app behind the proxy, an http(s) URL
	// CookieSecret seeds the session cookie: 16, 24 or 32 bytes.
	// Default: 32 random bytes, hex-encoded to 32 characters.
	CookieSecret string
	// ExtraArgs are appended to the command line, e.g.
	// "--insecure-oidc-allow-unverified-email" or "--scope=openid email".
	ExtraArgs []string
}

// OAuth2Proxy is a running oauth2-proxy on 127.0.0.1.
type OAuth2Proxy struct {
	URL         string // http://127.0.0.1:<Port>
	Port        int
	RedirectURL string // its callback, to register as the client's redirect URI
	log         *processLog
}

// Log returns the end of the proxy's output.
func (p *OAuth2Proxy) Log() string { return p.log.tail(8192) }

// StartOAuth2Proxy runs oauth2-proxy with cfg on a free loopback port,
// waits until it answers /ping, and stops it when the test ends. The
// proxy uses PKCE (S256), skips its own sign-in button and accepts any
// email domain; cookies are not marked Secure, since it listens on http.
func StartOAuth2Proxy(t testing.TB, cfg OAuth2ProxyConfig) *OAuth2Proxy {
	t.Helper()
	bin := oauth2Proxy.Binary(t)
	if cfg.CookieSecret == "" {
		b := make([]byte, 16)
		rand.Read(b)
		cfg.CookieSecret = hex.EncodeToString(b)
	}
	p := &OAuth2Proxy{}
	p.Port = startOnUnusedPort(t, "oauth2-proxy", func(port int) (*serverProcess, error) {
		p.URL = "http://127.0.0.1:" + strconv.Itoa(port)
		p.RedirectURL = p.URL + "/oauth2/callback"
		args := []string{
			"--provider=oidc",
			"--oidc-issuer-url=" + cfg.Issuer,
			"--client-id=" + cfg.ClientID,
			"--upstream=" + cfg.Upstream,
			"--http-address=127.0.0.1:" + strconv.Itoa(port),
			"--redirect-url=" + p.RedirectURL,
			"--email-domain=*",
			"--code-challenge-method=S256",
			"--skip-provider-button",
			"--cookie-secure=false",
		}
		if cfg.CAFile != "" {
			args = append(args, "--provider-ca-file="+cfg.CAFile)
		}
		cmd := exec.Command(bin, append(args, cfg.ExtraArgs...)...)
		// Secrets go through the environment, not the command line (which
		// any local user can read in /proc); no OAUTH2_PROXY_* of ours leaks in.
		cmd.Env = append(withoutOAuth2ProxyEnv(os.Environ()),
			"OAUTH2_PROXY_CLIENT_SECRET="+cfg.ClientSecret,
			"OAUTH2_PROXY_COOKIE_SECRET="+cfg.CookieSecret)
		sp, err := startServerProcess("oauth2-proxy", cmd)
		if err != nil {
			return nil, err
		}
		p.log = sp.log
		client := &http.Client{Timeout: time.Second}
		return sp, sp.waitUntil(30*time.Second, func() bool {
			resp, err := client.Get(p.URL + "/ping")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
	})
	return p
}

func withoutOAuth2ProxyEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "OAUTH2_PROXY_") {
			out = append(out, kv)
		}
	}
	return out
}
