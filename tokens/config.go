package tokens

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/conf"
)

// Config is the tokens section of config.yaml: how access tokens are
// signed and verified, and how long tokens and sessions live.
type Config struct {
	Issuer    string `yaml:"issuer"`    // default "authgate"
	Audience  string `yaml:"audience"`  // default "authgate"
	Algorithm string `yaml:"algorithm"` // HS256 (default) | RS256 | ES256 | EdDSA
	// Secret is the HS256 key, at least 32 bytes. Empty: one is generated on
	// first start and kept (0600) beside the SQLite database or under data/.
	Secret string `yaml:"secret"`
	// PrivateKeyFile is a PEM private key for RS256, ES256 or EdDSA.
	PrivateKeyFile string `yaml:"private_key_file"`
	// VerifyKeys are extra keys still accepted for verification during a
	// rotation: PEM files or JWKS URLs.
	VerifyKeys []string      `yaml:"verify_keys"`
	AccessTTL  conf.Duration `yaml:"access_ttl"`  // default 15m
	RefreshTTL conf.Duration `yaml:"refresh_ttl"` // default 168h: a session's life
	// RefreshReuseGrace is how long after a rotation the refresh token
	// just rotated still returns the same new pair instead of revoking the
	// session as reused (accounts/sessions_grace.go). Default 0: none.
	RefreshReuseGrace conf.Duration `yaml:"refresh_reuse_grace"`
	// Legacy accepts the FastAPI original's tokens across the cutover
	// (legacy.go); nil, the default, accepts none.
	Legacy *LegacyConfig `yaml:"legacy"`
}

// Defaults of the tokens section.
const (
	defaultIssuer     = "authgate" // also the default audience
	defaultAlgorithm  = AlgHS256
	defaultAccessTTL  = 15 * time.Minute
	defaultRefreshTTL = 7 * 24 * time.Hour
)

// SetDefaults fills what the file left out. The loader calls it once;
// nothing after it re-derives a default.
func (c *Config) SetDefaults() {
	if c.Issuer == "" {
		c.Issuer = defaultIssuer
	}
	if c.Audience == "" {
		c.Audience = defaultIssuer
	}
	if c.Algorithm == "" {
		c.Algorithm = defaultAlgorithm
	}
	if c.AccessTTL == 0 {
		c.AccessTTL = conf.Duration(defaultAccessTTL)
	}
	if c.RefreshTTL == 0 {
		c.RefreshTTL = conf.Duration(defaultRefreshTTL)
	}
}

// Validate reports every problem of the section, at key paths from the top
// of the file ("tokens.secret"). It expects SetDefaults to have run. It
// changes nothing; it stats the key files but does not read them (New
// does). No message repeats a secret.
func (c Config) Validate() error {
	var p conf.Problems
	if c.Issuer == "" {
		p.Addf("tokens.issuer", "must not be empty")
	}
	if c.Audience == "" {
		p.Addf("tokens.audience", "must not be empty")
	}
	switch c.Algorithm {
	case AlgHS256:
		if c.PrivateKeyFile != "" {
			p.Addf("tokens.private_key_file", "must be empty with algorithm HS256, whose key is tokens.secret")
		}
		if c.Secret != "" { // empty: a secret is generated on first start and kept
			if err := checkSecret([]byte(c.Secret)); err != nil {
				p.Add("tokens.secret", err)
			}
		}
	case AlgRS256, AlgES256, AlgEdDSA:
		if c.Secret != "" {
			p.Addf("tokens.secret", "must be empty with algorithm %s, whose key is tokens.private_key_file", c.Algorithm)
		}
		if c.PrivateKeyFile == "" {
			p.Addf("tokens.private_key_file", "required with algorithm %s: a PEM private key (authgate keygen --alg %s)", c.Algorithm, c.Algorithm)
		} else if err := conf.CheckFile(c.PrivateKeyFile); err != nil {
			p.Add("tokens.private_key_file", err)
		}
	default:
		// Spelled as in RFC 7518 §3.1 and RFC 8037 §3.1, exactly: a JOSE
		// library compares "alg" case-sensitively.
		msg := fmt.Sprintf("%q is not supported: must be one of HS256, RS256, ES256, EdDSA", c.Algorithm)
		for _, a := range []string{AlgHS256, AlgRS256, AlgES256, AlgEdDSA} {
			if strings.EqualFold(a, c.Algorithm) {
				msg += fmt.Sprintf(" (spelled exactly; did you mean %q?)", a)
			}
		}
		p.Addf("tokens.algorithm", "%s", msg)
	}
	for i, k := range c.VerifyKeys {
		kp := fmt.Sprintf("tokens.verify_keys[%d]", i)
		if !isJWKSURL(k) {
			if err := conf.CheckFile(k); err != nil {
				p.Add(kp, err)
			}
			continue
		}
		if err := jwksURLProblem(k); err != nil {
			p.Add(kp, err)
		} else if c.Algorithm == AlgHS256 {
			p.Addf(kp, "a JWKS URL publishes no secrets: HS256 verify_keys are files holding a secret")
		}
	}
	if c.AccessTTL <= 0 {
		p.Addf("tokens.access_ttl", "must be greater than 0")
	} else if c.AccessTTL.D() > maxAccessTTL {
		p.Addf("tokens.access_ttl", "%s is too long: at most 24h (revocation must cover an access token's whole life)", c.AccessTTL)
	}
	if c.RefreshTTL <= c.AccessTTL {
		p.Addf("tokens.refresh_ttl", "%s must be longer than access_ttl (%s)", c.RefreshTTL, c.AccessTTL)
	}
	if c.RefreshReuseGrace < 0 || c.RefreshReuseGrace.D() > 5*time.Minute {
		p.Addf("tokens.refresh_reuse_grace", "%s must be between 0s (no grace: a reused refresh token revokes its session) and 5m", c.RefreshReuseGrace)
	}
	if c.Legacy != nil {
		c.Legacy.validate(&p)
	}
	return p.Err()
}

// isJWKSURL tells a verify_keys URL from a file name.
func isJWKSURL(entry string) bool { return strings.Contains(entry, "://") }

// jwksURLProblem accepts an https URL, or http to a loopback host: keys
// fetched over plain http across a network could be swapped in transit.
func jwksURLProblem(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return errors.New("is not a URL: write https://host/path/jwks.json or a PEM file name")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
			return nil
		}
		return errors.New("must use https: keys fetched over plain http could be swapped in transit")
	}
	return fmt.Errorf("unsupported scheme %q: write https://host/path/jwks.json or a PEM file name", u.Scheme)
}
