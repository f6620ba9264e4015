package tokens

import (
	"context"
	"crypto"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/authgate/authgate/internal/conf"
)

// namedKey is one verification key: an HS256 secret ([]byte) or a public
// key, with its kid.
type namedKey struct {
	kid string
	key any
}

// keySet is an immutable snapshot of the keys Verify accepts. A JWKS
// refresh builds a new one and swaps it in.
type keySet struct {
	current any            // the signing key's verification key: used when a token has no kid
	byKid   map[string]any // signing key, verify_keys files, then verify_keys URLs
	jwks    []byte         // the public keys as a JWK Set, precomputed
	// epoch changes when a key is withdrawn; cache entries verified in an
	// earlier epoch are misses.
	epoch uint64
}

// load loads the signing key and verify_keys of a validated cfg: it reads
// and checks the key files, and fetches the JWKS URLs. Every problem is
// collected so that a config is fixed in one round.
func (t *AccessTokens) load(cfg Config, secretFile string) error {
	var p conf.Problems
	if signing, ok := t.loadSigningKey(cfg, secretFile, &p); ok {
		t.static = append(t.static, signing)
	}
	for i, entry := range cfg.VerifyKeys {
		path := fmt.Sprintf("tokens.verify_keys[%d]", i)
		switch {
		case isJWKSURL(entry): // https, or http to a loopback host (Validate)
			keys, err := t.fetchJWKS(context.Background(), entry)
			if err != nil {
				p.Addf(path, "%v", err)
				continue
			}
			t.remote = append(t.remote, &remoteKeys{url: entry, keys: keys})
		default:
			k, err := t.loadVerifyKeyFile(entry)
			if err != nil {
				p.Addf(path, "%v", err)
				continue
			}
			t.addStatic(path, k, &p)
		}
	}
	if p.Len() > 0 {
		return p.Err()
	}
	t.keys.Store(t.buildKeySet())
	return nil
}

// CheckKeyFiles reads the key files of a validated cfg — private_key_file
// and the verify_keys that are files — and reports, at their key paths,
// what New would refuse in them: the checks New makes when it loads them
// (the same code), minus what needs the network (JWKS URLs) or writes to
// disk (a generated HS256 secret). The loader runs it after Validate, so
// that `authgate check` refuses a key the start would.
func (c Config) CheckKeyFiles() error {
	t := &AccessTokens{alg: c.Algorithm, method: signingMethod(c.Algorithm)}
	var p conf.Problems
	if c.Algorithm != AlgHS256 || c.Secret != "" {
		if signing, ok := t.loadSigningKey(c, "", &p); ok {
			t.static = append(t.static, signing)
		}
	}
	for i, entry := range c.VerifyKeys {
		if isJWKSURL(entry) {
			continue
		}
		path := fmt.Sprintf("tokens.verify_keys[%d]", i)
		k, err := t.loadVerifyKeyFile(entry)
		if err != nil {
			p.Addf(path, "%v", err)
			continue
		}
		t.addStatic(path, k, &p)
	}
	return p.Err()
}

// loadSigningKey reads the one key that signs, from tokens.secret, the
// secret file or tokens.private_key_file.
func (t *AccessTokens) loadSigningKey(cfg Config, secretFile string, p *conf.Problems) (namedKey, bool) {
	if t.alg == AlgHS256 {
		secret := []byte(cfg.Secret)
		if cfg.Secret == "" {
			if secretFile == "" {
				p.Addf("tokens.secret", "is empty and there is no place to keep a generated one")
				return namedKey{}, false
			}
			var err error
			secret, t.secretGenerated, err = t.loadOrCreateSecret(secretFile)
			if err != nil {
				p.Addf("tokens.secret", "%v", err)
				return namedKey{}, false
			}
		}
		t.signKey, t.kid = secret, secretKid(secret)
		return namedKey{kid: t.kid, key: secret}, true
	}

	data, err := os.ReadFile(cfg.PrivateKeyFile)
	if err != nil {
		p.Addf("tokens.private_key_file", "%v", err)
		return namedKey{}, false
	}
	key, err := parsePEMKey(data)
	if err != nil {
		p.Addf("tokens.private_key_file", "%s: %v", cfg.PrivateKeyFile, err)
		return namedKey{}, false
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		p.Addf("tokens.private_key_file", "%s holds a public key: the private key is needed to sign", cfg.PrivateKeyFile)
		return namedKey{}, false
	}
	pub := signer.Public()
	if err := checkPublicKey(t.alg, pub); err != nil {
		p.Addf("tokens.private_key_file", "%s %v", cfg.PrivateKeyFile, err)
		return namedKey{}, false
	}
	kid, err := thumbprint(pub)
	if err != nil {
		p.Addf("tokens.private_key_file", "%s: %v", cfg.PrivateKeyFile, err)
		return namedKey{}, false
	}
	t.signKey, t.kid = signer, kid
	return namedKey{kid: kid, key: pub}, true
}

// loadVerifyKeyFile reads a verify_keys file: for HS256 a secret, else a
// PEM public key (or a private key, of which only the public half is kept).
func (t *AccessTokens) loadVerifyKeyFile(file string) (namedKey, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return namedKey{}, err
	}
	if t.alg == AlgHS256 {
		secret := []byte(strings.TrimSpace(string(data)))
		if err := checkSecret(secret); err != nil {
			return namedKey{}, fmt.Errorf("the secret in %s %v", file, err)
		}
		return namedKey{kid: secretKid(secret), key: secret}, nil
	}
	key, err := parsePEMKey(data)
	if err != nil {
		return namedKey{}, fmt.Errorf("%s: %w", file, err)
	}
	pub := publicKey(key)
	if err := checkPublicKey(t.alg, pub); err != nil {
		return namedKey{}, fmt.Errorf("%s %w", file, err)
	}
	kid, err := thumbprint(pub)
	if err != nil {
		return namedKey{}, fmt.Errorf("%s: %w", file, err)
	}
	return namedKey{kid: kid, key: pub}, nil
}

// addStatic adds a file key unless the same key is already there. Two
// different keys under one kid cannot happen with thumbprints unless
// SHA-256 collides, but the check costs nothing.
func (t *AccessTokens) addStatic(path string, k namedKey, p *conf.Problems) {
	for _, have := range t.static {
		if have.kid == k.kid {
			if !sameKey(have.key, k.key) {
				p.Addf(path, "key id %s is already used by another key", k.kid)
			}
			return
		}
	}
	t.static = append(t.static, k)
}

// buildKeySet merges the static keys with the latest JWKS keys. A remote
// key never replaces a static one with the same kid.
func (t *AccessTokens) buildKeySet() *keySet {
	ks := &keySet{current: t.static[0].key, byKid: make(map[string]any)}
	var published []namedKey
	add := func(k namedKey, from string) {
		if have, ok := ks.byKid[k.kid]; ok {
			if !sameKey(have, k.key) {
				t.log.Warn("verify_keys: ignoring a key whose kid is already used by another key", "url", from, "kid", k.kid)
			}
			return
		}
		ks.byKid[k.kid] = k.key
		published = append(published, k)
	}
	for _, k := range t.static {
		add(k, "")
	}
	for _, r := range t.remote {
		for _, k := range r.keys {
			add(k, r.url)
		}
	}
	ks.jwks = t.encodeJWKS(published)
	return ks
}

// encodeJWKS writes the public keys as a JWK Set (RFC 7517 §5). HS256
// secrets are never published: the set is empty.
func (t *AccessTokens) encodeJWKS(keys []namedKey) []byte {
	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: []jwk{}}
	for _, k := range keys {
		if _, secret := k.key.([]byte); secret {
			continue
		}
		j, err := publicJWK(k.key)
		if err != nil {
			continue // cannot happen: every public key was checked on load
		}
		j.Use, j.Alg, j.Kid = "sig", t.alg, k.kid
		set.Keys = append(set.Keys, j)
	}
	out, _ := json.Marshal(set) // cannot fail: the set holds only strings
	return out
}
