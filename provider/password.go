package provider

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	httphelper "github.com/zitadel/oidc/v3/pkg/http"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// credentialParams are parameters that carry a secret. RFC 6749 §2.3.1
// and §3.2 keep them out of the request URI (URIs end up in logs and
// Referer headers); zitadel reads the query and the body alike.
var credentialParams = []string{"client_secret", "password", "refresh_token", "code", "code_verifier", "token", "client_assertion"}

// passwordFront sits in front of the token endpoint (and, through
// bodyOnly, the introspection and revocation endpoints). It refuses
// credentials in the URI, answers the password grant, which zitadel does
// not implement, and hands every other request to zitadel.
func (p *Provider) passwordFront(next http.Handler) http.Handler {
	return bodyOnly(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.PostForm.Get("grant_type") != GrantPassword {
			next.ServeHTTP(w, r)
			return
		}
		p.passwordGrant(w, r)
	}))
}

// bodyOnly parses the form and refuses a request with a credential in its
// query string.
func bodyOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			op.WriteError(w, r, oidc.ErrInvalidRequest().WithDescription("the request body is not a form"), nil)
			return
		}
		q := r.URL.Query()
		for _, k := range credentialParams {
			if q.Has(k) {
				op.WriteError(w, r, oidc.ErrInvalidRequest().WithDescription("%s must be sent in the request body, not the URI", k), nil)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// passwordGrant is the resource owner password credentials grant (RFC
// 6749 §4.3), for a confidential client explicitly allowed it. The
// username and password go through authgate's login throttle; the tokens
// are those of a sign-in, with a refresh token when the client has that
// grant.
func (p *Provider) passwordGrant(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, secret, err := formClientCredentials(r)
	if err != nil {
		op.WriteError(w, r, err, nil)
		return
	}
	c, err := p.authenticateClient(ctx, id, secret)
	if err != nil {
		op.WriteError(w, r, err, nil)
		return
	}
	if !c.Allows(GrantPassword) {
		op.WriteError(w, r, oidc.ErrUnauthorizedClient().WithDescription("grant_type %q not allowed", GrantPassword), nil)
		return
	}
	username, password := r.PostForm.Get("username"), r.PostForm.Get("password")
	if username == "" || password == "" {
		op.WriteError(w, r, oidc.ErrInvalidRequest().WithDescription("username and password are required"), nil)
		return
	}
	scopes := c.Scopes
	if raw := r.PostForm.Get("scope"); raw != "" {
		scopes = nil
		for _, s := range strings.Fields(raw) {
			if !c.AllowsScope(s) {
				op.WriteError(w, r, oidc.ErrInvalidScope().WithDescription("scope %q is not allowed for this client", s), nil)
				return
			}
			scopes = append(scopes, s)
		}
	}
	user, err := p.accounts.CheckPassword(ctx, username, password, p.clientIP(r))
	var throttled *ThrottledError
	switch {
	case errors.As(err, &throttled):
		// RFC 6585 §4 and RFC 9110 §10.2.3; the error code stays RFC 6749's.
		secs := int(throttled.RetryAfter.Seconds() + 0.999)
		w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
		op.WriteError(w, r, op.NewStatusError(oidc.ErrInvalidGrant().WithDescription("too many failed sign-ins; retry later"), http.StatusTooManyRequests), nil)
		return
	case errors.Is(err, ErrInvalidGrant):
		op.WriteError(w, r, oidc.ErrInvalidGrant().WithDescription("wrong username or password"), nil)
		return
	case err != nil:
		op.WriteError(w, r, p.unavailable("password check", err), nil)
		return
	}
	issued, err := p.accounts.Issue(ctx, Grant{
		Client: c, User: user, Scopes: scopes, AuthTime: p.now(), Refresh: c.Allows(GrantRefreshToken),
	})
	if err != nil {
		op.WriteError(w, r, p.grantError("token issue", err), nil)
		return
	}
	resp, err := p.tokenResponse(c, issued, "")
	if err != nil {
		op.WriteError(w, r, err, nil)
		return
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	httphelper.MarshalJSON(w, resp.Data)
}

// formClientCredentials reads client_secret_basic or client_secret_post
// (RFC 6749 §2.3.1), as zitadel does for the grants it handles (its own
// parser is not exported): the Basic credentials are form-encoded, and a
// request must not use both methods.
func formClientCredentials(r *http.Request) (id, secret string, err error) {
	basicID, basicSecret, basic := r.BasicAuth()
	postID, postSecret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	switch {
	case basic && postSecret != "":
		return "", "", oidc.ErrInvalidRequest().WithDescription("client authentication must not use more than one method")
	case basic:
		id, err1 := url.QueryUnescape(basicID)
		secret, err2 := url.QueryUnescape(basicSecret)
		if err1 != nil || err2 != nil {
			return "", "", invalidClient("invalid basic auth header")
		}
		return id, secret, nil
	case postID == "":
		return "", "", oidc.ErrInvalidRequest().WithDescription("client_id or client_assertion must be provided")
	}
	return postID, postSecret, nil
}
