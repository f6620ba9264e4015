// Package tokens is authgate's token authority: the signing key (an HS256
// secret, generated and kept on first start when none is configured, or an
// RS256, ES256 or EdDSA private key), the keys still accepted during a
// rotation (PEM files and JWKS URLs, refreshed), access tokens (RFC 9068:
// issue and verify, exactly one algorithm), the verified-token cache that
// makes a repeated token cost a map lookup, the short-lived identity
// assertions signed for upstreams, the JWK Set the gateway publishes, and
// `authgate keygen`. It owns the tokens section of config.yaml (Config).
//
// It imports identity, internal/conf, internal/problem and golang-jwt, and
// must never import the database, the denylist, Redis, the account store
// or the HTTP layers: verifying a token is local work on the hot path.
package tokens
