package upstream

import (
	"net/http"

	"github.com/authgate/authgate/identity"
)

// SetIdentityHeaders writes id's identity headers and the assertion (when
// both are configured and non-empty) into h under the configured names,
// the very values the proxy would set upstream. Forward-auth answers a
// check with them, for the ingress to copy onto the request to the app.
func (u *Upstreams) SetIdentityHeaders(h http.Header, id *identity.Identity, assertion string) {
	p := u.headers
	vals := make([]string, 0, 5)
	if id != nil {
		vals = put(h, p.userID, id.UserID, vals)
		vals = put(h, p.username, id.Username, vals)
		vals = put(h, p.email, id.Email, vals)
		vals = put(h, p.roles, id.RolesHeader(), vals)
	}
	put(h, p.assertion, assertion, vals)
}
