package problem

import (
	"errors"
	"fmt"
	"time"
)

// The expected outcomes of a request that are not a success. Every package
// returns (or wraps, with %w) one of these, and Write is the one place that
// turns them into HTTP answers, by the table in table.go. The comment on
// each says how it is answered.
var (
	// Authentication on the request path (protected routes, /auth/me,
	// logout).
	ErrNoCredentials          = errors.New("no credentials")                              // 401, no error attribute
	ErrAmbiguousCredentials   = errors.New("more than one credential in the request")     // 400 invalid_request
	ErrMalformedAuthorization = errors.New("authorization header is not a bearer token")  // 400 invalid_request
	ErrInvalidToken           = errors.New("invalid token")                               // 401 invalid_token
	ErrTokenRevoked           = errors.New("token revoked")                               // 401 invalid_token
	ErrForbidden              = errors.New("missing required role")                       // 403 insufficient_scope
	ErrDenylistUnavailable    = errors.New("revocation list unavailable; failing closed") // 503
	ErrStoreUnavailable       = errors.New("account store unavailable")                   // 503

	// ErrThrottleUnavailable means the shared failure counter (Redis)
	// cannot be read or written. Logins fail closed on it (503): without
	// the counter, password guessing would be unlimited.
	ErrThrottleUnavailable = errors.New("login throttle unavailable; failing closed")
	// ErrOverloaded is a request that could not get a password-hashing
	// slot before its deadline (503): the process is hashing as much as it
	// lets itself, and the client should try again shortly.
	ErrOverloaded = errors.New("too many passwords being checked at once; try again shortly")

	// The account and token endpoints.
	ErrInvalidCredentials  = errors.New("incorrect username or password")        // 401
	ErrInvalidRefreshToken = errors.New("invalid or expired refresh token")      // 401
	ErrRefreshReused       = errors.New("refresh token reused; session revoked") // 401
	ErrUserDisabled        = errors.New("user is disabled")                      // 401 at login/refresh
	ErrUsernameTaken       = errors.New("username already registered")           // 409
	ErrEmailTaken          = errors.New("email already registered")              // 409
	ErrRegistrationClosed  = errors.New("registration is closed")                // 403
	ErrMalformedRequest    = errors.New("malformed request body")                // 400
	ErrRequestTooLarge     = errors.New("request body too large")                // 413
	// ErrRequestTimeout is a request body that did not arrive within the
	// auth API's body timeout (limits.read_header_timeout). 408.
	ErrRequestTimeout   = errors.New("request body not received in time")
	ErrUnsupportedMedia = errors.New("unsupported content type")   // 415
	ErrCrossSite        = errors.New("cross-site request refused") // 403
	ErrNotFound         = errors.New("not found")                  // 404
	ErrMethodNotAllowed = errors.New("method not allowed")         // 405; the handler sets Allow

	// Sign-in through an identity provider (issue 13). The federation
	// package's own errors are wrapped in these by the account and HTTP
	// layers, which may import it (this package may not).

	// ErrSignInFlow: a provider callback that belongs to no sign-in this
	// browser started (no or expired flow cookie, wrong state, a mix-up).
	// 400.
	ErrSignInFlow = errors.New("sign-in flow invalid or expired")
	// ErrSignInRefused: the provider did not sign the user in, refused the
	// code, or sent an ID token that failed verification. 401.
	ErrSignInRefused = errors.New("the identity provider did not sign the user in")
	// ErrSignInForbidden: authenticated at the provider, but not admitted
	// here: a restriction, an unverified address, sign-up closed. 403.
	ErrSignInForbidden = errors.New("not allowed to sign in with this identity provider")
	// ErrIdentityProviderUnavailable: the provider could not be asked. At
	// refresh time the session is kept and the client retries. 503.
	ErrIdentityProviderUnavailable = errors.New("identity provider unavailable")
	// ErrLocalLoginDisabled: a username and password login while
	// auth_api.local_login is false. 403.
	ErrLocalLoginDisabled = errors.New("username and password login is turned off")
	// ErrLastSignInMethod: unlinking the only identity of an account that
	// has no password would leave no way to sign in. 409.
	ErrLastSignInMethod = errors.New("the account's only way to sign in")

	// The gateway's routing.

	// ErrBadPath is wrapped by every error of the path canonicalisation:
	// the request path has a spelling authgate will not guess about. 400.
	ErrBadPath = errors.New("bad request path")
	// ErrBadHost: the request's authority is no host[:port] that authgate
	// routes. 400; the text says which rule, never echoes the host.
	ErrBadHost = errors.New("malformed Host header")
	// ErrNoRoute: no route matches the request. 404.
	ErrNoRoute = errors.New("no route matches this request")
	// ErrUnknownHost: the redirecting http listener was asked for a host
	// no route serves. 400.
	ErrUnknownHost = errors.New("unknown host")
	// ErrUpgradeRefused: the request asks to switch to a protocol its
	// route does not allow (routes[].upgrades). 400; see gateway/upgrade.go
	// for why it is refused rather than ignored.
	ErrUpgradeRefused = errors.New("upgrade refused")

	// Forward-auth checks ({prefix}/verify).

	// ErrCheckUntrusted: a check from a peer outside trusted_proxies. It
	// is refused, never judged: its description of the original request
	// is the client's own claim. 403.
	ErrCheckUntrusted = errors.New("forward-auth check from a peer outside trusted_proxies")
	// ErrCheckOriginal: the check does not describe one original request
	// (no X-Original-URL / X-Forwarded-Uri / path under the endpoint, both
	// styles at once, a missing method, a header sent twice). 400.
	ErrCheckOriginal = errors.New("the check does not describe the original request")
	// ErrCheckNoRoute: no route covers the original request. 403: the
	// ingress would otherwise pass a request nobody declared.
	ErrCheckNoRoute = errors.New("no route covers the original request")

	// The proxy. Every error the proxy hands on wraps exactly one of
	// these, except a client that went away (context.Canceled) and a
	// client whose request body could not be read (the read error, e.g.
	// *http.MaxBytesError).

	// ErrNoHealthyTarget: every target of the pool is unhealthy or
	// ejected. 502.
	ErrNoHealthyTarget = errors.New("no healthy upstream target")
	// ErrUpstreamTimeout: the upstream did not send response headers
	// within the pool's timeout, or the request's deadline passed. 504.
	ErrUpstreamTimeout = errors.New("upstream timed out")
	// ErrUpstreamUnavailable: the connection to the upstream failed
	// (refused, reset, closed before a response) or its answer was
	// unusable. 502.
	ErrUpstreamUnavailable = errors.New("upstream unavailable")
)

// ValidationError is a 422: a well-formed request whose field values break a
// rule. Field is the JSON field name.
type ValidationError struct {
	Field string
	Msg   string
}

func (e *ValidationError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Msg) }

// ThrottledError is a 429: too many failed logins, or registrations.
// RetryAfter is how long the client must wait; it becomes the Retry-After
// header. Reason says what was throttled; empty means failed logins.
type ThrottledError struct {
	RetryAfter time.Duration
	Reason     string
}

func (e *ThrottledError) Error() string {
	reason := e.Reason
	if reason == "" {
		reason = "too many failed login attempts"
	}
	return fmt.Sprintf("%s; retry after %s", reason, e.RetryAfter.Round(time.Second))
}
