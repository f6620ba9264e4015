package federation

import "errors"

// The expected outcomes of a sign-in or a refresh. Every error this package
// returns wraps exactly one of them (ErrRevoked also wraps the cause), so
// the HTTP layer matches with errors.Is and maps them to a status in one
// place. The status each one suggests is in its comment.
var (
	// ErrUnknownProvider: no provider of that name is configured. 404.
	ErrUnknownProvider = errors.New("unknown identity provider")

	// ErrFlowInvalid: the callback does not belong to a sign-in this browser
	// started — no flow cookie, an expired or tampered one, a state that
	// does not match, another provider's callback, an RFC 9207 iss that is
	// not the provider's, or no code. Login CSRF and mix-up attempts end
	// here. 400.
	ErrFlowInvalid = errors.New("sign-in flow missing, expired or not this browser's")

	// ErrProviderDenied: the provider sent the browser back with an error
	// (the user cancelled, or the provider refused them). 401.
	ErrProviderDenied = errors.New("the identity provider did not sign the user in")

	// ErrCodeRejected: the token endpoint refused the authorization code
	// (replayed, expired, or a PKCE verifier that does not match). 401.
	ErrCodeRejected = errors.New("the identity provider refused the authorization code")

	// ErrIDTokenInvalid: the ID token (or the userinfo answer) failed
	// verification: signature, algorithm, issuer, audience, azp, expiry,
	// nonce, at_hash, or a subject that changed. 401.
	ErrIDTokenInvalid = errors.New("ID token rejected")

	// ErrNotAllowed: the user is authenticated but the provider's
	// restrictions (allowed_domains, allowed_orgs, allowed_teams,
	// required_claims) do not let them in. 403.
	ErrNotAllowed = errors.New("not allowed to sign in with this identity provider")

	// ErrEmailNotVerified: a decision needed a verified email address (a
	// domain restriction, or linking to a local account) and the provider
	// did not vouch for it. 403.
	ErrEmailNotVerified = errors.New("email address not verified by the identity provider")

	// ErrSignupClosed: no authgate user is linked to this identity and the
	// provider has allow_signup: false. 403.
	ErrSignupClosed = errors.New("sign-up through this identity provider is closed")

	// ErrEmailTaken: a local user already has this email address and the
	// provider is not trusted to link to it (trusted_email: false). 409.
	ErrEmailTaken = errors.New("a local account already uses this email address")

	// ErrProviderUnavailable: the provider could not be reached, answered
	// 5xx or garbage, or refused authgate's client credentials. Nothing is
	// known about the user; at refresh time the session must NOT be ended
	// for this. 502.
	ErrProviderUnavailable = errors.New("identity provider unavailable")

	// ErrRevoked: at refresh time, the provider no longer vouches for the
	// user — it refused the refresh token (invalid_grant: the user was
	// disabled, removed or signed out there), or the user no longer passes
	// the provider's restrictions. The caller ends the authgate session and
	// revokes its tokens through the denylist. 401.
	ErrRevoked = errors.New("the identity provider no longer vouches for this user")

	// ErrNoRefreshToken: RefreshRoles was given no refresh token (the
	// provider issued none at sign-in). See RefreshRoles for what the caller
	// does then.
	ErrNoRefreshToken = errors.New("no provider refresh token to re-read roles with")

	// ErrSealed: a sealed value (the flow cookie, a stored token) cannot be
	// opened: tampered, truncated, sealed for another row, or sealed under
	// another secret.
	ErrSealed = errors.New("sealed value cannot be opened")
)
