package provider

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// How the provider's outcomes become protocol errors: the error codes
// zitadel lacks, the statuses it would get wrong, and the mapping of the
// interfaces' failures. Each oidc.Error names its RFC error code; zitadel
// renders it, as a JSON body
// (RFC 6749 §5.2) or, at the authorization endpoint after the
// redirect_uri is known good, as a redirect (§4.1.2.1) that carries iss
// (RFC 9207, see issEncoder). Its status is 400 unless wrapped in a
// StatusError.

// Error codes zitadel has no constructor for.
const (
	codeUnsupportedResponseType = "unsupported_response_type" // RFC 6749 §4.1.2.1
	codeConsentRequired         = "consent_required"          // OIDC Core §3.1.2.6
	codeInvalidToken            = "invalid_token"             // RFC 6750 §3.1
	codeInsufficientScope       = "insufficient_scope"        // RFC 6750 §3.1
	codeRequestURINotSupported  = "request_uri_not_supported" // OIDC Core §3.1.2.6
)

// The constructors of those codes. (The codes are untyped constants so
// that they convert to oidc.Error's unexported error type.)
func errUnsupportedResponseType(d string) *oidc.Error {
	return &oidc.Error{ErrorType: codeUnsupportedResponseType, Description: d}
}

func errConsentRequired(d string) *oidc.Error {
	return &oidc.Error{ErrorType: codeConsentRequired, Description: d}
}

func errInvalidToken(d string) *oidc.Error {
	return &oidc.Error{ErrorType: codeInvalidToken, Description: d}
}

func errInsufficientScope(d string) *oidc.Error {
	return &oidc.Error{ErrorType: codeInsufficientScope, Description: d}
}

func errRequestURINotSupported(d string) *oidc.Error {
	return &oidc.Error{ErrorType: codeRequestURINotSupported, Description: d}
}

// invalidClient is RFC 6749 §5.2's invalid_client, with the 401 it calls
// for (the WWW-Authenticate header is added by withChallenge). The
// description never says whether the client exists.
func invalidClient(description string) error {
	return op.NewStatusError(oidc.ErrInvalidClient().WithDescription("%s", description), http.StatusUnauthorized)
}

// unavailable answers a failure of the store behind an interface: 503,
// not the client's fault, and logged here with the cause (which never
// holds a token: implementations wrap store errors).
func (p *Provider) unavailable(what string, err error) error {
	p.log.Error("oauth2: "+what+" failed", slog.Any("error", err))
	return op.NewStatusError(oidc.ErrServerError().WithDescription("%s is temporarily unavailable", what), http.StatusServiceUnavailable)
}

// grantError maps what Accounts answered for a grant.
func (p *Provider) grantError(what string, err error) error {
	if errors.Is(err, ErrInvalidGrant) {
		return oidc.ErrInvalidGrant()
	}
	return p.unavailable(what, err)
}

// challengeWriter adds WWW-Authenticate to a response when its status is
// the one it is for: RFC 6749 §5.2 requires it on a 401 invalid_client,
// RFC 6750 §3 on the userinfo endpoint's 401 and 403. zitadel writes the
// errors but cannot set headers on them.
type challengeWriter struct {
	http.ResponseWriter
	challenges map[int]string
}

func (c challengeWriter) WriteHeader(status int) {
	if v, ok := c.challenges[status]; ok {
		c.Header().Set("WWW-Authenticate", v)
	}
	c.ResponseWriter.WriteHeader(status)
}

func withChallenge(h http.Handler, challenges map[int]string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(challengeWriter{ResponseWriter: w, challenges: challenges}, r)
	})
}

// noStore marks a response that carries tokens or token information
// (RFC 6749 §5.1, RFC 7662 §2.2).
func noStore(h http.Header) http.Header {
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	return h
}
