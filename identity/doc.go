// Package identity holds Identity, the one value that carries who a
// request is from between the stages of a protected request:
// authentication (authn, from a token verified by tokens) sets it, the
// denylist checks it, and the proxy (upstream) writes it into identity
// headers.
//
// It owns nothing else. It imports only the standard library and must
// never import a package of authgate's, nor a database driver, a Redis
// client or a JWT library: upstream depends on it, and upstream's
// dependencies must stay free of all of those (internal/archtest).
package identity
