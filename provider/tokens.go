package provider

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Introspection (RFC 7662), userinfo (OIDC Core §5.3) and revocation
// (RFC 7009): all answered by the Tokens interface, which consults the
// denylist, so a revoked or logged-out token is inactive at once.

// Introspect answers an authenticated confidential client (RFC 7662 §2.1:
// the endpoint must not help token scanning) with what a token is.
func (p *Provider) Introspect(ctx context.Context, r *op.Request[op.IntrospectionRequest]) (*op.Response, error) {
	cc := r.Data.ClientCredentials
	if cc.ClientAssertion != "" {
		return nil, invalidClient("client assertions are not supported: use client_secret_basic or client_secret_post")
	}
	if _, err := p.authenticateClient(ctx, cc.ClientID, cc.ClientSecret); err != nil {
		return nil, err
	}
	resp := &oidc.IntrospectionResponse{}
	info, err := p.tokens.Inspect(ctx, r.Data.Token)
	switch {
	case errors.Is(err, ErrInactive):
		// RFC 7662 §2.2: nothing else is said about an inactive token.
	case err != nil:
		return nil, p.unavailable("token inspection", err)
	default:
		p.describe(resp, info)
	}
	out := op.NewResponse(resp)
	noStore(out.Header)
	return out, nil
}

// describe fills an introspection response for an active token.
func (p *Provider) describe(resp *oidc.IntrospectionResponse, info *TokenInfo) {
	resp.Active = true
	resp.Scope = info.Scopes
	resp.ClientID = info.ClientID
	if info.Type == "access_token" {
		resp.TokenType = oidc.BearerToken
	}
	resp.Issuer = p.issuer
	resp.Subject = info.Subject
	resp.Audience = info.Audience
	resp.JWTID = info.TokenID
	resp.IssuedAt = oidc.FromTime(info.IssuedAt)
	resp.NotBefore = oidc.FromTime(info.IssuedAt)
	resp.Expiration = oidc.FromTime(info.ExpiresAt)
	claims := map[string]any{}
	if info.SessionID != "" {
		claims["sid"] = info.SessionID
	}
	roles := info.Roles
	if roles == nil {
		roles = []string{}
	}
	claims["roles"] = roles
	if u := info.User; u != nil {
		resp.Username = u.Username
		resp.Email, resp.EmailVerified = u.Email, oidc.Bool(u.EmailVerified)
	}
	resp.Claims = claims
}

// UserInfo returns the claims the access token's scopes release about its
// user. zitadel has taken the token from the Authorization header or the
// form (RFC 6750 §2.1, §2.2).
func (p *Provider) UserInfo(ctx context.Context, r *op.Request[oidc.UserInfoRequest]) (*op.Response, error) {
	info, err := p.tokens.Inspect(ctx, r.Data.AccessToken)
	switch {
	case errors.Is(err, ErrInactive):
		return nil, op.NewStatusError(errInvalidToken("the access token is not active"), http.StatusUnauthorized)
	case err != nil:
		return nil, p.unavailable("token inspection", err)
	case info.Type != "access_token":
		return nil, op.NewStatusError(errInvalidToken("not an access token"), http.StatusUnauthorized)
	case info.User == nil || !slices.Contains(info.Scopes, ScopeOpenID):
		return nil, op.NewStatusError(errInsufficientScope("userinfo needs a user's token granted the openid scope"), http.StatusForbidden)
	}
	out := op.NewResponse(userInfo(info.User, info.Scopes))
	noStore(out.Header)
	return out, nil
}

// Revocation ends the session of an access or refresh token (RFC 7009
// §2.1: revoking either may revoke the whole grant). An invalid or
// unknown token is not an error (§2.2): the client's goal is reached.
func (p *Provider) Revocation(ctx context.Context, r *op.ClientRequest[oidc.RevocationRequest]) (*op.Response, error) {
	c := clientOf(r.Client)
	err := p.tokens.Revoke(ctx, c.ID, r.Data.Token)
	switch {
	case err == nil, errors.Is(err, ErrInactive):
		return op.NewResponse(nil), nil
	case errors.Is(err, ErrOtherClient):
		return nil, oidc.ErrUnauthorizedClient().WithDescription("the token was not issued to this client")
	}
	return nil, p.unavailable("token revocation", err)
}
