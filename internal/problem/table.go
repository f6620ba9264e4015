package problem

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// class is how one kind of error is answered.
type class struct {
	status int
	detail string // shown to the client; "" = the error's own text
	// bearer is the RFC 6750 §3 error code for WWW-Authenticate; "-" means
	// send the challenge without an error attribute (no credentials at all).
	bearer string
}

// table maps the sentinels to their answers. Write checks it in order
// with errors.Is, so an error that wraps two of them is answered by the
// first: ErrTokenRevoked before ErrInvalidToken.
var table = []struct {
	err error
	class
}{
	{ErrNoCredentials, class{http.StatusUnauthorized, "Not authenticated", "-"}},
	{ErrAmbiguousCredentials, class{http.StatusBadRequest, "More than one credential was sent; send exactly one", "invalid_request"}},
	{ErrMalformedAuthorization, class{http.StatusBadRequest, "The Authorization header must be \"Bearer <token>\"", "invalid_request"}},
	{ErrTokenRevoked, class{http.StatusUnauthorized, "Token has been revoked", "invalid_token"}},
	{ErrInvalidToken, class{http.StatusUnauthorized, "Could not validate credentials", "invalid_token"}},
	{ErrForbidden, class{http.StatusForbidden, "Not enough permissions", "insufficient_scope"}},
	{ErrDenylistUnavailable, class{http.StatusServiceUnavailable, "Token revocation status is unavailable; try again shortly", ""}},
	{ErrThrottleUnavailable, class{http.StatusServiceUnavailable, "Login is temporarily unavailable; try again shortly", ""}},
	{ErrStoreUnavailable, class{http.StatusServiceUnavailable, "The account store is unavailable; try again shortly", ""}},
	{ErrOverloaded, class{http.StatusServiceUnavailable, "Too many passwords are being checked at once; try again shortly", ""}},
	{ErrInvalidCredentials, class{http.StatusUnauthorized, "Incorrect username or password", ""}},
	{ErrRefreshReused, class{http.StatusUnauthorized, "Refresh token reuse detected; the session has been revoked", ""}},
	{ErrInvalidRefreshToken, class{http.StatusUnauthorized, "Invalid or expired refresh token", ""}},
	{ErrUserDisabled, class{http.StatusUnauthorized, "Inactive user", ""}},
	{ErrUsernameTaken, class{http.StatusConflict, "Username already registered", ""}},
	{ErrEmailTaken, class{http.StatusConflict, "Email already registered", ""}},
	{ErrRegistrationClosed, class{http.StatusForbidden, "Registration is closed", ""}},
	{ErrRequestTooLarge, class{http.StatusRequestEntityTooLarge, "Request body too large", ""}},
	{ErrRequestTimeout, class{http.StatusRequestTimeout, "Request body not received in time", ""}},
	{ErrUnsupportedMedia, class{http.StatusUnsupportedMediaType, "Send application/json (or a form for login)", ""}},
	{ErrMalformedRequest, class{http.StatusBadRequest, "", ""}},
	{ErrCrossSite, class{http.StatusForbidden, "Cross-site request refused", ""}},
	{ErrSignInFlow, class{http.StatusBadRequest, "This sign-in expired or was started in another browser; start again", ""}},
	{ErrSignInRefused, class{http.StatusUnauthorized, "The identity provider did not sign you in", ""}},
	{ErrSignInForbidden, class{http.StatusForbidden, "This account may not sign in here", ""}},
	{ErrIdentityProviderUnavailable, class{http.StatusServiceUnavailable, "The identity provider is unavailable; try again shortly", ""}},
	{ErrLocalLoginDisabled, class{http.StatusForbidden, "Sign-in with a username and password is turned off here", ""}},
	{ErrLastSignInMethod, class{http.StatusConflict, "This identity is the account's only way to sign in", ""}},
	{ErrNotFound, class{http.StatusNotFound, "Not found", ""}},
	{ErrMethodNotAllowed, class{http.StatusMethodNotAllowed, "Method not allowed", ""}}, // the auth API sets Allow
	{ErrBadPath, class{http.StatusBadRequest, "", ""}},
	{ErrBadHost, class{http.StatusBadRequest, "", ""}}, // the text says which rule, never echoes the host
	{ErrNoRoute, class{http.StatusNotFound, "No route matches this request", ""}},
	{ErrUpgradeRefused, class{http.StatusBadRequest, "This route does not switch to the protocol named in Upgrade: only websocket, unless the route lists others under upgrades", ""}},
	{ErrCheckUntrusted, class{http.StatusForbidden, "Forward-auth checks are answered only for trusted_proxies", ""}},
	{ErrCheckOriginal, class{http.StatusBadRequest, "", ""}},
	{ErrCheckNoRoute, class{http.StatusForbidden, "No route covers this request", ""}},
	{ErrUnknownHost, class{http.StatusBadRequest, "This host is not served here", ""}},
	{ErrNoHealthyTarget, class{http.StatusBadGateway, "No healthy upstream target", ""}},
	{ErrUpstreamUnavailable, class{http.StatusBadGateway, "The upstream could not be reached", ""}},
	{ErrUpstreamTimeout, class{http.StatusGatewayTimeout, "The upstream did not answer in time", ""}},
}

// classify finds how err is answered. Unknown errors are a 500 whose
// detail says nothing about the cause.
func classify(err error) (class, bool) {
	for _, c := range table {
		if errors.Is(err, c.err) {
			return c.class, true
		}
	}
	var ve *ValidationError
	if errors.As(err, &ve) {
		return class{status: http.StatusUnprocessableEntity}, true
	}
	var te *ThrottledError
	if errors.As(err, &te) {
		return class{status: http.StatusTooManyRequests}, true
	}
	return class{http.StatusInternalServerError, "Internal error", ""}, false
}

// document is an RFC 9457 problem document. Detail keeps clients written
// for the FastAPI original working: they read .detail.
type document struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	// Errors lists field problems on a 422, in the shape FastAPI clients
	// know: [{"loc": ["body", "password"], "msg": "…"}].
	Errors []fieldError `json:"errors,omitempty"`
}

type fieldError struct {
	Loc []string `json:"loc"`
	Msg string   `json:"msg"`
}

// Write answers with the application/problem+json document (RFC 9457) for
// err: the status and detail of the table, WWW-Authenticate with the
// RFC 6750 error code on authentication failures, Retry-After on a 429
// (the wait, rounded up to seconds) and a 503 (one second). It reports
// whether err was an expected outcome; an unexpected one is answered 500
// without a word about its cause, which the caller logs.
func Write(w http.ResponseWriter, _ *http.Request, err error) (expected bool) {
	c, expected := classify(err)
	p := document{Type: "about:blank", Title: http.StatusText(c.status), Status: c.status, Detail: c.detail}
	if p.Detail == "" {
		p.Detail = err.Error()
	}
	h := w.Header()
	switch c.bearer {
	case "":
	case "-":
		h.Set("WWW-Authenticate", `Bearer realm="authgate"`)
	default:
		h.Set("WWW-Authenticate", `Bearer realm="authgate", error="`+c.bearer+`"`)
	}
	var ve *ValidationError
	if errors.As(err, &ve) {
		p.Errors = []fieldError{{Loc: []string{"body", ve.Field}, Msg: ve.Msg}}
	}
	var te *ThrottledError
	if errors.As(err, &te) {
		h.Set("Retry-After", strconv.Itoa(int((te.RetryAfter+time.Second-1)/time.Second)))
	}
	if c.status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "1")
	}
	body, _ := json.Marshal(p) // strings and ints only: cannot fail
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("Content-Length")
	w.WriteHeader(p.Status)
	w.Write(append(body, '\n'))
	return expected
}

// WriteLogged is Write for a handler that has a logger: an error that is
// not an expected outcome is logged with the request's id (the answer's
// X-Request-Id, which the gateway sets first) and its text, which the 500
// never shows the client.
func WriteLogged(w http.ResponseWriter, r *http.Request, err error, logger *slog.Logger) {
	if !Write(w, r, err) {
		logger.LogAttrs(r.Context(), slog.LevelError, "internal error",
			slog.String("request_id", w.Header().Get("X-Request-Id")), slog.String("error", err.Error()))
	}
}
