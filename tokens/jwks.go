package tokens

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"time"
)

const maxJWKSBytes = 1 << 20

// jwk holds the JSON Web Key members authgate reads and writes
// (RFC 7517 §4, RFC 7518 §6, RFC 8037 §2).
type jwk struct {
	Kty string `json:"kty"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
	Kid string `json:"kid,omitempty"`
	Crv string `json:"crv,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	// Private members: read only to refuse a key that exposes them.
	D string `json:"d,omitempty"`
	K string `json:"k,omitempty"`
}

// remoteKeys is one verify_keys URL and the keys it last served. Only the
// refresh (under refreshMu) writes keys.
type remoteKeys struct {
	url  string
	keys []namedKey
}

// parseJWK turns a JWK into a public key that can verify alg signatures,
// or says why it cannot.
func parseJWK(alg string, j jwk) (crypto.PublicKey, error) {
	switch {
	case j.Kid == "":
		return nil, errors.New("key without kid")
	case j.D != "" || j.K != "":
		return nil, fmt.Errorf("key %s exposes private key material", j.Kid)
	case j.Use != "" && j.Use != "sig":
		return nil, fmt.Errorf("key %s is for use %q, not sig", j.Kid, j.Use)
	case j.Alg != "" && j.Alg != alg:
		return nil, fmt.Errorf("key %s is for %s, not %s", j.Kid, j.Alg, alg)
	}
	var pub crypto.PublicKey
	switch j.Kty {
	case "RSA":
		n, err1 := b64Field(j.N)
		e, err2 := b64Field(j.E)
		if err := errors.Join(err1, err2); err != nil || len(e) == 0 || len(e) > 4 {
			return nil, fmt.Errorf("key %s: malformed RSA n or e", j.Kid)
		}
		exp := new(big.Int).SetBytes(e).Int64()
		if exp < 3 || exp%2 == 0 {
			return nil, fmt.Errorf("key %s: RSA exponent %d is not valid", j.Kid, exp)
		}
		pub = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(exp)}
	case "EC":
		if j.Crv != "P-256" {
			return nil, fmt.Errorf("key %s: curve %q is not P-256", j.Kid, j.Crv)
		}
		x, err1 := b64Field(j.X)
		y, err2 := b64Field(j.Y)
		if err := errors.Join(err1, err2); err != nil || len(x) != 32 || len(y) != 32 {
			return nil, fmt.Errorf("key %s: malformed P-256 x or y", j.Kid)
		}
		k, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil { // not a point on the curve
			return nil, fmt.Errorf("key %s: %w", j.Kid, err)
		}
		pub = k
	case "OKP":
		if j.Crv != "Ed25519" {
			return nil, fmt.Errorf("key %s: curve %q is not Ed25519", j.Kid, j.Crv)
		}
		x, err := b64Field(j.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("key %s: malformed Ed25519 x", j.Kid)
		}
		pub = ed25519.PublicKey(x)
	default:
		return nil, fmt.Errorf("key %s: key type %q is not supported", j.Kid, j.Kty)
	}
	if err := checkPublicKey(alg, pub); err != nil {
		return nil, fmt.Errorf("key %s %w", j.Kid, err)
	}
	return pub, nil
}

func b64Field(s string) ([]byte, error) {
	return base64.RawURLEncoding.Strict().DecodeString(s)
}

// fetchJWKS downloads a JWK Set and keeps the keys that can verify our
// algorithm. A set with none is an error: it cannot serve the rotation it
// was configured for.
func (t *AccessTokens) fetchJWKS(ctx context.Context, url string) ([]namedKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := t.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch JWKS %s: status %s", url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS %s: %w", url, err)
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("fetch JWKS %s: larger than %d bytes", url, maxJWKSBytes)
	}
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("JWKS %s: %w", url, err)
	}
	var keys []namedKey
	var skipped []error
	for _, j := range set.Keys {
		pub, err := parseJWK(t.alg, j)
		if err != nil {
			skipped = append(skipped, err)
			continue
		}
		keys = append(keys, namedKey{kid: j.Kid, key: pub})
	}
	if len(keys) == 0 {
		if len(skipped) == 0 {
			return nil, fmt.Errorf("JWKS %s has no keys", url)
		}
		return nil, fmt.Errorf("JWKS %s has no usable %s key: %w", url, t.alg, errors.Join(skipped...))
	}
	for _, err := range skipped {
		t.log.Debug("verify_keys: skipped a JWKS key", "url", url, "reason", err)
	}
	return keys, nil
}

// httpsOnlyRedirect keeps a JWKS fetch from being redirected to plain HTTP,
// where the keys could be replaced in transit.
func httpsOnlyRedirect(req *http.Request, via []*http.Request) error {
	if req.URL.Scheme != "https" {
		return fmt.Errorf("refusing redirect to %s: JWKS must come over https", req.URL.Scheme)
	}
	if len(via) >= 5 {
		return errors.New("too many redirects")
	}
	return nil
}

// Run refreshes the keys of verify_keys URLs every few minutes until ctx is
// done, so a rotation announced by the other issuer reaches this instance.
// A failed fetch keeps that URL's previous keys and is logged. Without URLs
// it only waits for ctx. It returns nil when ctx is done.
func (t *AccessTokens) Run(ctx context.Context) error {
	if len(t.remote) == 0 {
		<-ctx.Done()
		return nil
	}
	tick := time.NewTicker(t.refreshEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			t.refresh(ctx)
		}
	}
}

// refresh fetches every verify_keys URL once and swaps in the new key set.
// If a key that was accepted before is gone or changed, the key set's epoch
// moves on, which turns every verified-token cache entry into a miss: tokens
// signed by a withdrawn key stop working now rather than at their exp.
func (t *AccessTokens) refresh(ctx context.Context) {
	t.refreshMu.Lock()
	defer t.refreshMu.Unlock()
	for _, r := range t.remote {
		keys, err := t.fetchJWKS(ctx, r.url)
		if err != nil {
			if ctx.Err() == nil {
				t.log.Warn("verify_keys: JWKS refresh failed; keeping the previous keys", "url", r.url, "err", err)
			}
			continue
		}
		r.keys = keys
	}
	old := t.keys.Load()
	next := t.buildKeySet()
	next.epoch = old.epoch
	withdrawn := false
	for kid, key := range old.byKid {
		if now, ok := next.byKid[kid]; !ok || !sameKey(key, now) {
			withdrawn = true
			break
		}
	}
	if withdrawn {
		next.epoch++
	}
	t.keys.Store(next)
	if withdrawn {
		t.cache.clear() // the entries are dead already; free them
		t.log.Info("verify_keys: a key was withdrawn; tokens it signed are no longer accepted")
	}
}
