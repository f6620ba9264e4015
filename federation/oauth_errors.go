package federation

import (
	"errors"
	"fmt"
	"net/http"

	"golang.org/x/oauth2"
)

// exchangeError classifies a failed code exchange. The token endpoint's
// answer is reduced to its status and RFC 6749 §5.2 error code: its body and
// error_description can echo the code (some providers do), so they never
// reach an error text or a log.
func exchangeError(name string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.ErrorCode == "invalid_grant" {
		return fmt.Errorf("%w: %s: the token endpoint answered invalid_grant (a used, expired or foreign code, or a PKCE verifier that does not match)", ErrCodeRejected, name)
	}
	return fmt.Errorf("%w: %s: token endpoint: %s", ErrProviderUnavailable, name, tokenEndpointFailure(err))
}

// refreshError classifies a failed refresh: invalid_grant is the provider
// saying no (RFC 6749 §5.2: the refresh token is invalid, expired or
// revoked — the user was disabled, deleted or signed out there), and ends
// the authgate session. Anything else, invalid_client included (authgate's
// own credentials are wrong, not the user's), leaves the session alone.
func refreshError(name string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.ErrorCode == "invalid_grant" {
		return fmt.Errorf("%w: %s refused the refresh token (invalid_grant)", ErrRevoked, name)
	}
	return fmt.Errorf("%w: %s: token endpoint: %s", ErrProviderUnavailable, name, tokenEndpointFailure(err))
}

// tokenEndpointFailure describes a failed token request without its body.
func tokenEndpointFailure(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		msg := fmt.Sprintf("HTTP %d %s", status, http.StatusText(status))
		if re.ErrorCode != "" {
			msg += ", error " + safeCode(re.ErrorCode)
		}
		if re.ErrorCode == "invalid_client" || re.ErrorCode == "unauthorized_client" {
			msg += " (check client_id and client_secret)"
		}
		return msg
	}
	// Transport errors (refused, timeout, TLS) and x/oauth2's own parse
	// errors carry no token.
	return fmt.Sprintf("%.200s", err.Error())
}
