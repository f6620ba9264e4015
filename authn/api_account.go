package authn

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/authgate/authgate/accounts"
	"github.com/authgate/authgate/internal/problem"
)

// userView is a user as the API shows it, in the FastAPI original's field
// names.
type userView struct {
	ID        int64    `json:"id"`
	Username  string   `json:"username"`
	Email     string   `json:"email"`
	IsActive  bool     `json:"is_active"`
	Roles     []string `json:"roles"`
	CreatedAt string   `json:"created_at"` // RFC 3339, UTC
}

func newUserView(u *accounts.User) userView {
	roles := u.Roles
	if roles == nil {
		roles = []string{}
	}
	return userView{
		ID: u.ID, Username: u.Username, Email: u.Email, IsActive: u.IsActive, Roles: roles,
		CreatedAt: u.CreatedAt.UTC().Format(time.RFC3339),
	}
}

// registerRequest is the body of POST {prefix}/register.
type registerRequest struct {
	Username *string `json:"username"`
	Email    *string `json:"email"`
	Password *string `json:"password"`
	// Fields the server assigns. A request that carries any of them is
	// refused (422) rather than half-obeyed: a client that believes it set
	// its own roles must learn at once that it did not.
	ID       json.RawMessage `json:"id"`
	Roles    json.RawMessage `json:"roles"`
	IsActive json.RawMessage `json:"is_active"`
}

// handleRegister is POST {prefix}/register: JSON {username, email,
// password} → 201 the new user.
func (s *Service) handleRegister(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r, false)
	if err == nil && body.kind != bodyJSON {
		err = problem.ErrUnsupportedMedia
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var req registerRequest
	if err := decodeJSON(body.data, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	for _, f := range []struct {
		name string
		raw  json.RawMessage
	}{{"id", req.ID}, {"roles", req.Roles}, {"is_active", req.IsActive}} {
		if len(f.raw) > 0 {
			s.fail(w, r, &problem.ValidationError{Field: f.name, Msg: "is assigned by the server and cannot be set"})
			return
		}
	}
	var invalid []error
	username, err := required("username", req.Username)
	if err != nil {
		invalid = append(invalid, err)
	}
	email, err := required("email", req.Email)
	if err != nil {
		invalid = append(invalid, err)
	}
	password, err := required("password", req.Password)
	if err != nil {
		invalid = append(invalid, err)
	}
	if len(invalid) > 0 {
		s.fail(w, r, s.validationErrs(invalid))
		return
	}
	u, err := s.accounts.Register(r.Context(), username, email, password, clientIP(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	noStore(w)
	writeJSON(w, http.StatusCreated, newUserView(u))
}

// handleMe is GET {prefix}/me: the user behind the bearer token or the
// access cookie.
func (s *Service) handleMe(w http.ResponseWriter, r *http.Request) {
	id, _, err := s.Authenticate(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	u, err := s.accounts.Me(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	noStore(w)
	writeJSON(w, http.StatusOK, newUserView(u))
}

// handleJWKS is GET {prefix}/jwks.json and /.well-known/jwks.json: the
// public keys that verify our tokens and identity assertions (RFC 7517).
// Upstreams fetch it often, so caches may keep it for five minutes; a key
// rotation keeps the old key in verify_keys for longer than that.
func (s *Service) handleJWKS(w http.ResponseWriter, r *http.Request) {
	body := s.tokens.JWKS()
	h := w.Header()
	h.Set("Content-Type", "application/jwk-set+json")
	h.Set("Cache-Control", "public, max-age=300")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}
