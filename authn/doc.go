// Package authn is the /auth HTTP layer and the authentication of
// protected requests. It serves the JSON API (register, login, refresh,
// logout, me, the JWK Set), the browser's login and logout pages and its
// transparent refresh, sign-in through identity providers
// ({prefix}/login/{provider} and {prefix}/callback/{name}) and the linked
// identities API ({prefix}/me/identities), the cookies, the CSRF defences
// with the one Origin check (SameOrigin, which the gateway's WebSocket
// check uses too), the safe rd redirect, the OpenAPI document and Swagger
// UI; and Authenticate, which turns a request's one credential into an
// identity with tokens and the denylist and no other I/O. It owns the
// auth_api section of config.yaml (Config).
//
// It imports every package below it — identity, internal/conf,
// internal/problem, store, tokens, denylist, accounts — and must never
// import upstream or gateway.
package authn
