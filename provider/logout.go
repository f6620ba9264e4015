package provider

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// EndSession is OIDC RP-Initiated Logout 1.0. With a valid id_token_hint
// (ours, possibly expired, §2) it ends the client's session and the
// browser's authgate session everywhere and redirects to the
// post_logout_redirect_uri, or the login page. Without one it cannot tell
// that the request comes from the client rather than from a link on
// another site, so it sends the browser to authgate's logout page, which
// asks (§2: the OP should ask the user).
//
// authgate has no post_logout_redirect_uris key: a post_logout_redirect_uri
// is accepted when it is on the origin of one of the client's registered
// redirect URIs, which the client must therefore be known for (client_id,
// or the hint's audience). Anything else is refused, not followed: the
// logout endpoint is not an open redirect.
func (p *Provider) EndSession(ctx context.Context, r *op.Request[oidc.EndSessionRequest]) (*op.Redirect, error) {
	d := r.Data
	var claims *oidc.IDTokenClaims
	if d.IdTokenHint != "" {
		var err error
		if claims, err = p.sign.verifyHint(ctx, p.issuer, d.IdTokenHint); err != nil {
			return nil, oidc.ErrInvalidRequest().WithDescription("id_token_hint is not an ID token of this issuer")
		}
	}
	clientID := d.ClientID
	if claims != nil {
		switch {
		case clientID == "" && len(claims.Audience) == 1:
			clientID = claims.Audience[0]
		case clientID != "" && !slices.Contains(claims.Audience, clientID):
			return nil, oidc.ErrInvalidRequest().WithDescription("client_id is not the id_token_hint's audience")
		}
	}
	target, err := p.postLogoutTarget(ctx, clientID, d.PostLogoutRedirectURI, d.State)
	if err != nil {
		return nil, err
	}
	if claims == nil {
		q := url.Values{}
		if target != "" {
			q.Set("rd", target)
		}
		red := op.NewRedirect(p.logoutURL)
		if len(q) > 0 {
			red.URL = appendQuery(p.logoutURL, q)
		}
		return red, nil
	}
	cookies, err := p.browser.SignOut(browserRequest(ctx, r.Method, r.URL, r.Header), claims.Subject, claims.SessionID)
	if err != nil {
		return nil, p.unavailable("sign-out", err)
	}
	if target == "" {
		target = p.loginURL
	}
	red := op.NewRedirect(target)
	noStore(red.Header)
	for _, c := range cookies {
		red.Header.Add("Set-Cookie", c.String())
	}
	return red, nil
}

// postLogoutTarget checks a post_logout_redirect_uri and adds state to it;
// "" when none was asked for.
func (p *Provider) postLogoutTarget(ctx context.Context, clientID, raw, state string) (string, error) {
	if raw == "" {
		return "", nil
	}
	if clientID == "" {
		return "", oidc.ErrInvalidRequest().WithDescription("post_logout_redirect_uri needs client_id or id_token_hint")
	}
	c, err := p.clients.Client(ctx, clientID)
	switch {
	case errors.Is(err, ErrUnknownClient):
		return "", oidc.ErrInvalidRequest().WithDescription("client_id is not a registered client")
	case err != nil:
		return "", p.unavailable("client lookup", err)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Fragment != "" || u.User != nil || !onClientOrigin(c, u) {
		return "", oidc.ErrInvalidRequest().WithDescription("post_logout_redirect_uri is not on the origin of a redirect URI of this client")
	}
	if state != "" {
		q := u.Query()
		q.Set("state", state)
		u.RawQuery = q.Encode()
	}
	return u.String(), nil
}

// onClientOrigin reports whether u has the scheme and host (port
// included) of one of c's redirect URIs.
func onClientOrigin(c *Client, u *url.URL) bool {
	for _, ru := range c.RedirectURIs {
		r, err := url.Parse(ru)
		if err == nil && r.Scheme == u.Scheme && strings.EqualFold(r.Host, u.Host) {
			return true
		}
	}
	return false
}
