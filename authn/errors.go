package authn

import (
	"errors"
	"fmt"
	"time"
)

// The errors authn returns for expected outcomes. gateway/errors.go is the
// one place that maps them to HTTP statuses; nothing here knows about HTTP
// status codes.
var (
	// Request-path authentication (protected routes, /auth/me, logout).
	ErrNoCredentials          = errors.New("no credentials")                              // 401, no error attribute
	ErrAmbiguousCredentials   = errors.New("more than one credential in the request")     // 400 invalid_request
	ErrMalformedAuthorization = errors.New("authorization header is not a bearer token")  // 400 invalid_request
	ErrInvalidToken           = errors.New("invalid token")                               // 401 invalid_token
	ErrTokenRevoked           = errors.New("token revoked")                               // 401 invalid_token
	ErrForbidden              = errors.New("missing required role")                       // 403 insufficient_scope
	ErrDenylistUnavailable    = errors.New("revocation list unavailable; failing closed") // 503
	ErrStoreUnavailable       = errors.New("account store unavailable")                   // 503

	// Account and token endpoints.
	ErrInvalidCredentials  = errors.New("incorrect username or password")        // 401
	ErrInvalidRefreshToken = errors.New("invalid or expired refresh token")      // 401
	ErrRefreshReused       = errors.New("refresh token reused; session revoked") // 401
	ErrUserDisabled        = errors.New("user is disabled")                      // 401 at login/refresh
	ErrUsernameTaken       = errors.New("username already registered")           // 409
	ErrEmailTaken          = errors.New("email already registered")              // 409
	ErrRegistrationClosed  = errors.New("registration is closed")                // 403
	ErrMalformedRequest    = errors.New("malformed request body")                // 400
	ErrRequestTooLarge     = errors.New("request body too large")                // 413
	ErrUnsupportedMedia    = errors.New("unsupported content type")              // 415
	ErrCrossSite           = errors.New("cross-site request refused")            // 403
	ErrNotFound            = errors.New("not found")                             // 404
	ErrMethodNotAllowed    = errors.New("method not allowed")                    // 405; the handler sets Allow
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
