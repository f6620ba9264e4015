package authn

import (
	"errors"
	"net/http"

	"github.com/authgate/authgate/internal/problem"
)

// auth_api.compat: fastapi (issue 12) makes the /auth API answer as the
// FastAPI original did, where it differs in ways an unchanged client of
// the original notices: a duplicate username is 400 {"detail": "Username
// already registered"} (not 409), a failed login 401 {"detail": "Invalid
// credentials"}, a 422's detail is the list [{loc, msg, type}] naming
// every invalid field, and logging out a token that is already logged
// out is 200 again. Every other answer is authgate's own, whose problem
// documents carry a string detail as the original's errors did. The
// routes are the original's under auth_api.prefix: point the client's
// base URL at https://HOST/auth.

// compatFastAPI is the one value auth_api.compat takes besides "".
const compatFastAPI = "fastapi"

// fastapiError is one item of a FastAPI 422's detail list.
type fastapiError struct {
	Loc  []string `json:"loc"`
	Msg  string   `json:"msg"`
	Type string   `json:"type"`
}

// compat reports whether the API answers as the FastAPI original.
func (s *Service) compat() bool { return s.cfg.Compat == compatFastAPI }

// failFastAPI answers err as the original would, when it is one of the
// answers that differ, and reports whether it did.
func (s *Service) failFastAPI(w http.ResponseWriter, err error) bool {
	if items := fastapiErrors(err); len(items) > 0 {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"detail": items})
		return true
	}
	detail := ""
	status := http.StatusBadRequest
	switch {
	case errors.Is(err, problem.ErrUsernameTaken):
		detail = "Username already registered"
	case errors.Is(err, problem.ErrEmailTaken):
		// The original had no check: its unique index made this a 500.
		detail = "Email already registered"
	case errors.Is(err, problem.ErrInvalidCredentials):
		status, detail = http.StatusUnauthorized, "Invalid credentials"
	default:
		return false
	}
	writeJSON(w, status, map[string]string{"detail": detail})
	return true
}

// fastapiErrors lists every *problem.ValidationError in err's tree.
func fastapiErrors(err error) []fastapiError {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []fastapiError
		for _, e := range j.Unwrap() {
			out = append(out, fastapiErrors(e)...)
		}
		return out
	}
	var ve *problem.ValidationError
	if !errors.As(err, &ve) {
		return nil
	}
	typ := "value_error"
	if ve.Msg == "field required" {
		typ = "value_error.missing"
	}
	return []fastapiError{{Loc: []string{"body", ve.Field}, Msg: ve.Msg, Type: typ}}
}

// validationErrs is what a request with these invalid fields is refused
// with: all of them under compat (FastAPI names every field), else the
// first.
func (s *Service) validationErrs(errs []error) error {
	if s.compat() {
		return errors.Join(errs...)
	}
	return errs[0]
}
