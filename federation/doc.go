// Package federation signs users in with upstream identity providers: any
// number of OpenID Connect providers (Google, Keycloak, Entra ID, ...) and
// GitHub (OAuth2 without OIDC), configured under `identity_providers:`.
//
// It owns:
//   - the `identity_providers` config section (Config, ProviderConfig), its
//     defaults and its validation;
//   - the browser flow: Begin sends the browser to the provider with PKCE
//     (S256), state and nonce bound to it by a sealed, short-lived __Host-
//     cookie; Callback verifies all of it, redeems the code, verifies the ID
//     token, enforces the provider's restrictions and maps its claims to
//     authgate roles;
//   - re-reading roles later with the provider's refresh token
//     (RefreshRoles), and the RP-initiated logout URL (EndSessionURL);
//   - sealing provider tokens for storage at rest (TokenCipher).
//
// It does not create users, sessions or cookies of authgate's own, and it
// stores nothing: Callback returns a Result, Result.Admit says whether the
// caller signs an existing user in, links, creates or refuses, and the
// caller's account layer does it. That keeps this package free of storage.
//
// It must never import authn, accounts, gateway, upstream, a database
// driver, a Redis client or a JWT library: only the standard library,
// golang.org/x/oauth2, github.com/coreos/go-oidc/v3 (and its go-jose) and
// internal/conf. imports_test.go checks this.
//
// Errors are the sentinels in errors.go, wrapped with %w; the HTTP layer maps
// them to statuses in one place. No error text and no log line carries a
// token, a code, a state, a nonce, a PKCE verifier or a client secret, nor
// the provider's error_description (which may echo the code).
package federation
