package gateway

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/upstream"
)

// This file is the one place where errors become HTTP statuses. Packages
// return sentinel errors (authn.ErrInvalidToken, upstream.ErrUpstreamTimeout,
// …); writeError matches them with errors.Is/As, never by text.

// Errors of the gateway's own making.
var (
	errNoRoute          = errors.New("no route matches this request")
	errUnknownHost      = errors.New("unknown host")
	errMethodNotAllowed = errors.New("method not allowed")
)

// problem is an RFC 9457 problem document. Detail keeps clients written for
// the FastAPI original working: they read .detail.
type problem struct {
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

// errorClass is how one kind of error is answered.
type errorClass struct {
	status int
	detail string // shown to the client; "" = the error's own text
	// bearer is the RFC 6750 §3 error code for WWW-Authenticate; "-" means
	// send the challenge without an error attribute (no credentials at all).
	bearer string
}

// classes maps sentinels to answers, checked in order with errors.Is.
var classes = []struct {
	err error
	errorClass
}{
	{authn.ErrNoCredentials, errorClass{http.StatusUnauthorized, "Not authenticated", "-"}},
	{authn.ErrAmbiguousCredentials, errorClass{http.StatusBadRequest, "More than one credential was sent; send exactly one", "invalid_request"}},
	{authn.ErrMalformedAuthorization, errorClass{http.StatusBadRequest, "The Authorization header must be \"Bearer <token>\"", "invalid_request"}},
	{authn.ErrTokenRevoked, errorClass{http.StatusUnauthorized, "Token has been revoked", "invalid_token"}},
	{authn.ErrInvalidToken, errorClass{http.StatusUnauthorized, "Could not validate credentials", "invalid_token"}},
	{authn.ErrForbidden, errorClass{http.StatusForbidden, "Not enough permissions", "insufficient_scope"}},
	{authn.ErrDenylistUnavailable, errorClass{http.StatusServiceUnavailable, "Token revocation status is unavailable; try again shortly", ""}},
	{authn.ErrThrottleUnavailable, errorClass{http.StatusServiceUnavailable, "Login is temporarily unavailable; try again shortly", ""}},
	{authn.ErrStoreUnavailable, errorClass{http.StatusServiceUnavailable, "The account store is unavailable; try again shortly", ""}},
	{authn.ErrOverloaded, errorClass{http.StatusServiceUnavailable, "Too many passwords are being checked at once; try again shortly", ""}},
	{authn.ErrInvalidCredentials, errorClass{http.StatusUnauthorized, "Incorrect username or password", ""}},
	{authn.ErrRefreshReused, errorClass{http.StatusUnauthorized, "Refresh token reuse detected; the session has been revoked", ""}},
	{authn.ErrInvalidRefreshToken, errorClass{http.StatusUnauthorized, "Invalid or expired refresh token", ""}},
	{authn.ErrUserDisabled, errorClass{http.StatusUnauthorized, "Inactive user", ""}},
	{authn.ErrUsernameTaken, errorClass{http.StatusConflict, "Username already registered", ""}},
	{authn.ErrEmailTaken, errorClass{http.StatusConflict, "Email already registered", ""}},
	{authn.ErrRegistrationClosed, errorClass{http.StatusForbidden, "Registration is closed", ""}},
	{authn.ErrRequestTooLarge, errorClass{http.StatusRequestEntityTooLarge, "Request body too large", ""}},
	{authn.ErrRequestTimeout, errorClass{http.StatusRequestTimeout, "Request body not received in time", ""}},
	{authn.ErrUnsupportedMedia, errorClass{http.StatusUnsupportedMediaType, "Send application/json (or a form for login)", ""}},
	{authn.ErrMalformedRequest, errorClass{http.StatusBadRequest, "", ""}},
	{authn.ErrCrossSite, errorClass{http.StatusForbidden, "Cross-site request refused", ""}},
	{authn.ErrNotFound, errorClass{http.StatusNotFound, "Not found", ""}},
	{authn.ErrMethodNotAllowed, errorClass{http.StatusMethodNotAllowed, "Method not allowed", ""}}, // the auth API sets Allow
	{ErrBadPath, errorClass{http.StatusBadRequest, "", ""}},
	{ErrBadHost, errorClass{http.StatusBadRequest, "", ""}}, // the text says which rule, never echoes the host
	{errNoRoute, errorClass{http.StatusNotFound, "No route matches this request", ""}},
	{errUpgradeRefused, errorClass{http.StatusBadRequest, "This route does not switch to the protocol named in Upgrade: only websocket, unless the route lists others under upgrades", ""}},
	{errUnknownHost, errorClass{http.StatusBadRequest, "This host is not served here", ""}},
	{errMethodNotAllowed, errorClass{http.StatusMethodNotAllowed, "Method not allowed", ""}},
	{upstream.ErrNoHealthyTarget, errorClass{http.StatusBadGateway, "No healthy upstream target", ""}},
	{upstream.ErrUpstreamUnavailable, errorClass{http.StatusBadGateway, "The upstream could not be reached", ""}},
	{upstream.ErrUpstreamTimeout, errorClass{http.StatusGatewayTimeout, "The upstream did not answer in time", ""}},
}

// classify finds how err is answered. Unknown errors are a 500 whose
// detail says nothing about the cause; the cause goes to the log.
func classify(err error) (errorClass, bool) {
	for _, c := range classes {
		if errors.Is(err, c.err) {
			return c.errorClass, true
		}
	}
	var ve *authn.ValidationError
	if errors.As(err, &ve) {
		return errorClass{status: http.StatusUnprocessableEntity}, true
	}
	var te *authn.ThrottledError
	if errors.As(err, &te) {
		return errorClass{status: http.StatusTooManyRequests}, true
	}
	return errorClass{http.StatusInternalServerError, "Internal error", ""}, false
}

// writeError answers r with the problem document for err. It is handed to
// authn and upstream as their ErrorWriter, so every error response of the
// gateway goes through here.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	c, known := classify(err)
	if !known {
		s.logger.LogAttrs(r.Context(), slog.LevelError, "internal error",
			slog.String("request_id", w.Header().Get("X-Request-Id")), slog.String("error", err.Error()))
	}
	p := problem{Type: "about:blank", Title: http.StatusText(c.status), Status: c.status, Detail: c.detail}
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
	var ve *authn.ValidationError
	if errors.As(err, &ve) {
		p.Errors = []fieldError{{Loc: []string{"body", ve.Field}, Msg: ve.Msg}}
	}
	var te *authn.ThrottledError
	if errors.As(err, &te) {
		h.Set("Retry-After", strconv.Itoa(int((te.RetryAfter+time.Second-1)/time.Second)))
	}
	if c.status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "1")
	}
	writeProblem(w, p)
}

func writeProblem(w http.ResponseWriter, p problem) {
	body, _ := json.Marshal(p)
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("Content-Length")
	w.WriteHeader(p.Status)
	w.Write(append(body, '\n'))
}
