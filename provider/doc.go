// Package provider makes authgate an OAuth 2.0 authorization server and
// OpenID Connect provider over authgate's own users, sessions and denylist.
//
// It owns the `oauth2` config section and serves, under the auth API's
// prefix, {prefix}/oauth2/authorize, token, introspect, revoke, userinfo,
// logout and consent, plus /.well-known/openid-configuration and
// /.well-known/oauth-authorization-server (RFC 8414).
//
// Protocol work is github.com/zitadel/oidc/v3's op package, an
// OpenID-certified implementation: Provider implements op.Server (the
// per-endpoint interface, not op.Storage) and op.MetadataServer, and
// zitadel does the routing, request parsing, client-credential parsing,
// PKCE verification, redirect_uri and prompt checks, error redirects and
// RFC 6749 §5.2 error bodies. op.Server is used rather than op.Storage
// because Storage makes zitadel mint the access tokens (typ "JWT", its own
// claims); through op.Server the access tokens are authgate's own
// (typ at+jwt, the claims protected routes already verify), so a
// provider-issued token is accepted by every route unchanged and the hot
// path does not change at all.
//
// One grant is not zitadel's: the resource owner password credentials
// grant (RFC 6749 §4.3), which zitadel does not implement. It is answered
// by passwordGrant in front of the token endpoint, only for clients whose
// grants list "password" (off by default, as RFC 9700 §2.4 advises), and
// only from the request body.
//
// Everything stateful is behind interfaces defined here and implemented by
// the caller: Accounts (check a password, open or renew a session and mint
// its tokens), Tokens (inspect and revoke tokens, end sessions — it
// reflects the denylist), Browser (who is signed in on this browser, sign
// out), CodeStore and ConsentStore (shared between instances in the
// database; MemoryCodes and MemoryConsents serve tests and a single
// instance) and ClientStore (config clients; the gateway adds those
// registered with `authgate client add`, kept in the database).
//
// The package must never import authn, accounts, tokens, denylist, store,
// gateway or upstream, nor a database driver or a Redis client: it sits
// between authn and the gateway and reaches state only through the
// interfaces above.
package provider
