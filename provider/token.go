package provider

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// The token endpoint's grants (RFC 6749 §4.1.3, §4.4, §6). zitadel parses
// the request and the client's credentials, calls VerifyClient, checks
// that the client has the grant (unauthorized_client otherwise) and calls
// one of these. The password grant is passwordFront's.

// VerifyClient authenticates the client: client_secret_basic or
// client_secret_post for a confidential client, its client_id alone for a
// public one (which proves itself with PKCE).
func (p *Provider) VerifyClient(ctx context.Context, r *op.Request[op.ClientCredentials]) (op.Client, error) {
	cc := r.Data
	if cc.ClientAssertion != "" || cc.ClientAssertionType != "" {
		return nil, invalidClient("client assertions are not supported: use client_secret_basic or client_secret_post")
	}
	c, err := p.authenticateClient(ctx, cc.ClientID, cc.ClientSecret)
	if err != nil {
		return nil, err
	}
	return opClient{c: c}, nil
}

// errClientAuth is the one answer to every failed client authentication,
// so that it does not tell a wrong secret from an unknown client.
const errClientAuth = "client authentication failed"

func (p *Provider) authenticateClient(ctx context.Context, id, secret string) (*Client, error) {
	c, err := p.clients.Client(ctx, id)
	switch {
	case errors.Is(err, ErrUnknownClient):
		return nil, invalidClient(errClientAuth)
	case err != nil:
		return nil, p.unavailable("client lookup", err)
	case c.Public && secret != "":
		return nil, invalidClient(errClientAuth)
	case !c.Public && !c.CheckSecret(secret):
		return nil, invalidClient(errClientAuth)
	}
	return c, nil
}

// CodeExchange redeems an authorization code. The code is used up by the
// first attempt, whatever its outcome; a second attempt revokes the
// tokens the first produced (RFC 6749 §4.1.2). Every mismatch is
// invalid_grant (§5.2) and issues nothing.
func (p *Provider) CodeExchange(ctx context.Context, r *op.ClientRequest[oidc.AccessTokenRequest]) (*op.Response, error) {
	c := clientOf(r.Client)
	hash := codeHash(r.Data.Code)
	code, err := p.codes.Redeem(ctx, hash)
	switch {
	case errors.Is(err, ErrCodeReused):
		p.log.Warn("oauth2: authorization code used twice; revoking what it issued", "client_id", c.ID)
		if code != nil && code.SessionID != "" {
			p.endSession(ctx, code.SessionID)
		}
		return nil, oidc.ErrInvalidGrant().WithDescription("authorization code was already used")
	case errors.Is(err, ErrCodeNotFound):
		return nil, oidc.ErrInvalidGrant().WithDescription("authorization code is not valid")
	case err != nil:
		return nil, p.unavailable("code store", err)
	}
	switch {
	case !p.now().Before(code.Expires):
		return nil, oidc.ErrInvalidGrant().WithDescription("authorization code has expired")
	case code.ClientID != c.ID:
		return nil, oidc.ErrInvalidGrant().WithDescription("authorization code was issued to another client")
	case r.Data.RedirectURI != code.RedirectURI:
		return nil, oidc.ErrInvalidGrant().WithDescription("redirect_uri is not the authorization request's")
	case c.Public && code.Challenge == "":
		return nil, oidc.ErrInvalidGrant().WithDescription("PKCE is required for public clients")
	}
	// Also refuses a code_verifier for a code issued without a challenge
	// (PKCE downgrade, RFC 9700 §4.8.2).
	var challenge *oidc.CodeChallenge
	if code.Challenge != "" {
		challenge = &oidc.CodeChallenge{Challenge: code.Challenge, Method: oidc.CodeChallengeMethodS256}
	}
	if err := op.AuthorizeCodeChallenge(r.Data.CodeVerifier, challenge); err != nil {
		return nil, err
	}
	issued, err := p.accounts.Issue(ctx, Grant{
		Client:   c,
		User:     &User{ID: code.UserID, AuthTime: code.AuthTime},
		Scopes:   code.Scopes,
		AuthTime: code.AuthTime,
		Refresh:  c.Allows(GrantRefreshToken),
	})
	if err != nil {
		return nil, p.grantError("token issue", err)
	}
	if err := p.codes.Issued(ctx, hash, issued.SessionID); err != nil {
		// Used again while we issued (or unrecordable, so a later reuse
		// could not revoke them): these tokens must not live.
		p.endSession(ctx, issued.SessionID)
		if errors.Is(err, ErrCodeReused) {
			return nil, oidc.ErrInvalidGrant().WithDescription("authorization code was already used")
		}
		return nil, p.unavailable("code store", err)
	}
	return p.tokenResponse(c, issued, code.Nonce)
}

// RefreshToken rotates a refresh token. A scope parameter may only narrow
// the grant (RFC 6749 §6); it is checked before the token is used up.
func (p *Provider) RefreshToken(ctx context.Context, r *op.ClientRequest[oidc.RefreshTokenRequest]) (*op.Response, error) {
	c := clientOf(r.Client)
	narrow := []string(r.Data.Scopes)
	if len(narrow) > 0 {
		info, err := p.tokens.Inspect(ctx, r.Data.RefreshToken)
		switch {
		case errors.Is(err, ErrInactive):
			return nil, oidc.ErrInvalidGrant()
		case err != nil:
			return nil, p.unavailable("token inspection", err)
		case info.Type != "refresh_token" || info.ClientID != c.ID:
			return nil, oidc.ErrInvalidGrant()
		}
		for _, s := range narrow {
			if !slices.Contains(info.Scopes, s) {
				return nil, oidc.ErrInvalidScope().WithDescription("scope %q was not granted", s)
			}
		}
	}
	issued, err := p.accounts.Refresh(ctx, c.ID, r.Data.RefreshToken)
	if err != nil {
		return nil, p.grantError("token refresh", err)
	}
	if len(narrow) > 0 {
		issued.Scopes = narrow
	}
	return p.tokenResponse(c, issued, "")
}

// ClientCredentialsExchange issues a client its own token (RFC 6749 §4.4):
// sub = the client, its configured roles, no refresh token (§4.4.3) and no
// ID token (no user). zitadel has refused public clients already.
func (p *Provider) ClientCredentialsExchange(ctx context.Context, r *op.ClientRequest[oidc.ClientCredentialsRequest]) (*op.Response, error) {
	c := clientOf(r.Client)
	var scopes []string
	for _, s := range r.Data.Scope {
		if !c.AllowsScope(s) || s == ScopeOpenID {
			return nil, oidc.ErrInvalidScope().WithDescription("scope %q is not allowed for this client's own tokens", s)
		}
		if !slices.Contains(scopes, s) {
			scopes = append(scopes, s)
		}
	}
	issued, err := p.accounts.Issue(ctx, Grant{Client: c, Scopes: scopes})
	if err != nil {
		return nil, p.grantError("token issue", err)
	}
	issued.RefreshToken, issued.User = "", nil
	return p.tokenResponse(c, issued, "")
}

// tokenResponse is the successful token response (RFC 6749 §5.1), with an
// ID token when the grant has the openid scope and a user (OIDC Core
// §3.1.3.3).
func (p *Provider) tokenResponse(c *Client, t *Issued, nonce string) (*op.Response, error) {
	now := p.now()
	resp := &oidc.AccessTokenResponse{
		AccessToken:  t.AccessToken,
		TokenType:    oidc.BearerToken,
		RefreshToken: t.RefreshToken,
		ExpiresIn:    uint64(max(t.ExpiresAt.Sub(now).Round(time.Second)/time.Second, 0)),
		Scope:        t.Scopes,
	}
	if t.User != nil && slices.Contains(t.Scopes, ScopeOpenID) {
		id, err := p.sign.idToken(idTokenInput{
			issuer:      p.issuer,
			clientID:    c.ID,
			user:        t.User,
			scopes:      t.Scopes,
			nonce:       nonce,
			authTime:    t.AuthTime,
			sessionID:   t.SessionID,
			accessToken: t.AccessToken,
			issuedAt:    now,
			expires:     t.ExpiresAt,
		})
		if err != nil {
			// The tokens exist but cannot be delivered: end them.
			p.endSession(context.Background(), t.SessionID)
			return nil, p.unavailable("ID token", err)
		}
		resp.IDToken = id
	}
	out := op.NewResponse(resp)
	noStore(out.Header)
	return out, nil
}

// endSession ends a session the provider must not leave alive; a failure
// is logged, since the client's request fails either way.
func (p *Provider) endSession(ctx context.Context, sid string) {
	if err := p.tokens.EndSession(ctx, sid); err != nil {
		p.log.Error("oauth2: ending a session failed", "session", sid, "error", err)
	}
}
