package provider

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// The authorization endpoint (RFC 6749 §4.1.1, OIDC Core §3.1.2).
//
// zitadel parses the request, calls VerifyAuthRequest, checks the
// redirect_uri against the client, then prompt, scope, response_type
// registration and the code_challenge_method's syntax, and calls
// Authorize. An error before the redirect_uri is known good is rendered as
// a 400 and never redirected (RFC 6749 §4.1.2.1); after, zitadel redirects
// it to the client with state and, through issEncoder, iss.

// VerifyAuthRequest finds the client and requires the redirect_uri to be
// one it registered, byte for byte (RFC 9700 §4.1.3): no normalisation, no
// loopback port leeway, no pattern. Both failures are answered here, to
// the user, so that no unregistered URI ever receives a redirect.
func (p *Provider) VerifyAuthRequest(ctx context.Context, r *op.Request[oidc.AuthRequest]) (*op.ClientRequest[oidc.AuthRequest], error) {
	if r.Data.ClientID == "" {
		return nil, oidc.ErrInvalidRequestRedirectURI().WithDescription("client_id is missing")
	}
	c, err := p.clients.Client(ctx, r.Data.ClientID)
	if errors.Is(err, ErrUnknownClient) {
		return nil, oidc.ErrInvalidRequestRedirectURI().WithDescription("client_id is not a registered client")
	}
	if err != nil {
		return nil, p.unavailable("client lookup", err)
	}
	if !slices.Contains(c.RedirectURIs, r.Data.RedirectURI) {
		return nil, oidc.ErrInvalidRequestRedirectURI().WithDescription("redirect_uri is not registered for this client")
	}
	return &op.ClientRequest[oidc.AuthRequest]{Request: r, Client: opClient{c: c, responseType: r.Data.ResponseType}}, nil
}

// Authorize checks what zitadel leaves to the server, finds the user,
// asks for sign-in or consent when needed, and answers with a code.
func (p *Provider) Authorize(ctx context.Context, r *op.ClientRequest[oidc.AuthRequest]) (*op.Redirect, error) {
	req, c := r.Data, clientOf(r.Client)
	if err := checkAuthRequest(c, req, r.Form); err != nil {
		return nil, err
	}
	scopes := grantable(c, req.Scopes)
	if len(scopes) == 0 {
		return nil, oidc.ErrInvalidScope().WithDescription("none of the requested scopes is allowed for this client")
	}
	none := slices.Contains(req.Prompt, oidc.PromptNone)
	user, err := p.browser.SignedIn(browserRequest(ctx, r.Method, r.URL, r.Header))
	switch {
	case errors.Is(err, ErrNotSignedIn):
		if none {
			return nil, oidc.ErrLoginRequired()
		}
		return p.toLogin(r.Form, false), nil
	case err != nil:
		return nil, p.unavailable("session check", err)
	}
	if reauth, err := p.needsSignIn(ctx, req, user); err != nil {
		return nil, err
	} else if reauth {
		if none {
			return nil, oidc.ErrLoginRequired()
		}
		return p.toLogin(r.Form, true), nil
	}
	if red, err := p.consent(ctx, r, c, user, scopes); red != nil || err != nil {
		return red, err
	}
	return p.issueCode(ctx, req, c, user, scopes)
}

// checkAuthRequest refuses what authgate does not do, with the error the
// specifications name for it.
func checkAuthRequest(c *Client, req *oidc.AuthRequest, form url.Values) error {
	switch {
	case req.ResponseType != oidc.ResponseTypeCode:
		return errUnsupportedResponseType("only response_type=code is supported; the implicit and hybrid flows are not (RFC 9700 §2.1.2)")
	case req.ResponseMode != "" && req.ResponseMode != oidc.ResponseModeQuery:
		return oidc.ErrInvalidRequest().WithDescription("only response_mode=query is supported")
	case req.RequestParam != "":
		return oidc.ErrRequestNotSupported()
	case form.Has("request_uri"):
		return errRequestURINotSupported("request_uri is not supported")
	case len(req.State) > maxParamLen || len(req.Nonce) > maxParamLen:
		return oidc.ErrInvalidRequest().WithDescription("state or nonce is too long")
	}
	// PKCE (RFC 7636): S256 only, since plain protects nothing against
	// someone who sees the authorization request; required of a public
	// client, which has nothing else to bind the code to (RFC 9700 §2.1.1).
	switch {
	case req.CodeChallenge != "" && req.CodeChallengeMethod != oidc.CodeChallengeMethodS256:
		return oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256")
	case req.CodeChallenge != "" && !isS256Challenge(req.CodeChallenge):
		return oidc.ErrInvalidRequest().WithDescription("code_challenge is not a base64url SHA-256 (43 characters)")
	case req.CodeChallenge == "" && req.CodeChallengeMethod != "":
		return oidc.ErrInvalidRequest().WithDescription("code_challenge_method without code_challenge")
	case req.CodeChallenge == "" && c.Public:
		return oidc.ErrInvalidRequest().WithDescription("PKCE is required for public clients: send code_challenge with code_challenge_method=S256")
	}
	return nil
}

// isS256Challenge: BASE64URL(SHA256(verifier)) without padding is 43
// characters of the base64url alphabet (RFC 7636 §4.2).
func isS256Challenge(s string) bool {
	if len(s) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

// grantable keeps the requested scopes the client may have, once each, in
// the order asked (RFC 6749 §3.3 lets the server grant fewer).
func grantable(c *Client, requested []string) []string {
	var out []string
	for _, s := range requested {
		if c.AllowsScope(s) && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// needsSignIn reports whether the user must enter credentials again: the
// session is older than max_age (prompt=login arrives as max_age 0, OIDC
// Core §3.1.2.1), or an id_token_hint names another user.
func (p *Provider) needsSignIn(ctx context.Context, req *oidc.AuthRequest, u *User) (bool, error) {
	if req.MaxAge != nil && p.now().Sub(u.AuthTime) > time.Duration(*req.MaxAge)*time.Second {
		return true, nil
	}
	if req.IDTokenHint != "" {
		claims, err := p.sign.verifyHint(ctx, p.issuer, req.IDTokenHint)
		if err != nil {
			return false, oidc.ErrInvalidRequest().WithDescription("id_token_hint is not an ID token of this issuer")
		}
		return claims.Subject != u.ID, nil
	}
	return false, nil
}

// toLogin sends the browser to the login page, which comes back (rd, a
// same-origin path) to this authorization request. For a re-sign-in the
// way back drops prompt=login and max_age=0, or it would ask again
// forever; the ID token's auth_time then tells the client when the user
// signed in.
func (p *Provider) toLogin(form url.Values, reauth bool) *op.Redirect {
	back := cleanForm(form)
	if reauth {
		prompts := strings.Fields(back.Get("prompt"))
		prompts = slices.DeleteFunc(prompts, func(s string) bool { return s == oidc.PromptLogin })
		if len(prompts) == 0 {
			back.Del("prompt")
		} else {
			back.Set("prompt", strings.Join(prompts, " "))
		}
		if back.Get("max_age") == "0" {
			back.Del("max_age")
		}
	}
	q := url.Values{"rd": {p.path("authorize") + "?" + back.Encode()}}
	if reauth {
		q.Set("prompt", "login")
	}
	red := op.NewRedirect(appendQuery(p.loginURL, q))
	noStore(red.Header)
	return red
}

// cleanForm is the authorization request's parameters without the consent
// form's.
func cleanForm(form url.Values) url.Values {
	back := make(url.Values, len(form))
	for k, v := range form {
		if k != "consent" && k != "consent_ticket" {
			back[k] = slices.Clone(v)
		}
	}
	return back
}

func appendQuery(base string, q url.Values) string {
	if strings.Contains(base, "?") {
		return base + "&" + q.Encode()
	}
	return base + "?" + q.Encode()
}

// consent returns a redirect to the consent page when the user must be
// asked, acts on the consent form's answer, or returns nothing to go on.
func (p *Provider) consent(ctx context.Context, r *op.ClientRequest[oidc.AuthRequest], c *Client, u *User, scopes []string) (*op.Redirect, error) {
	if c.FirstParty {
		return nil, nil
	}
	need, err := p.needsConsent(ctx, c, u.ID, scopes, r.Data.Prompt)
	if err != nil {
		return nil, p.unavailable("consent lookup", err)
	}
	// The answer counts only as the consent form sends it: in a POST body
	// (PostForm holds nothing else; a link cannot consent), with a ticket
	// for this user, client, redirect URI and these scopes.
	answer := r.PostForm.Get("consent")
	switch {
	case answer == "" && !need:
		return nil, nil
	case answer == "" && slices.Contains(r.Data.Prompt, oidc.PromptNone):
		return nil, errConsentRequired("the user has not granted these scopes to this client")
	case answer == "":
		return p.toConsent(r.Form, c, u, scopes)
	case p.checkConsentTicket(r.PostForm.Get("consent_ticket"), u.ID, c.ID, r.Data.RedirectURI, scopes) != nil:
		// Expired, or not for this request: ask again.
		return p.toConsent(r.Form, c, u, scopes)
	case answer == "deny":
		return nil, oidc.ErrAccessDenied().WithDescription("the user denied the request")
	case answer == "allow":
		if err := p.consents.Consent(ctx, u.ID, c.ID, scopes); err != nil {
			return nil, p.unavailable("consent store", err)
		}
		return nil, nil
	}
	return nil, oidc.ErrInvalidRequest().WithDescription("consent must be allow or deny")
}

func (p *Provider) toConsent(form url.Values, c *Client, u *User, scopes []string) (*op.Redirect, error) {
	ticket, err := p.consentTicket(u.ID, c.ID, form.Get("redirect_uri"), scopes)
	if err != nil {
		return nil, p.unavailable("consent ticket", err)
	}
	q := cleanForm(form)
	q.Set("consent_ticket", ticket)
	red := op.NewRedirect(p.path("consent") + "?" + q.Encode())
	noStore(red.Header)
	return red, nil
}

// issueCode stores a new code, bound to everything the token request must
// match, and redirects the browser to the client with it.
func (p *Provider) issueCode(ctx context.Context, req *oidc.AuthRequest, c *Client, u *User, scopes []string) (*op.Redirect, error) {
	raw := make([]byte, 32)
	if _, err := io.ReadFull(p.rand, raw); err != nil {
		return nil, p.unavailable("code generation", err)
	}
	code := base64.RawURLEncoding.EncodeToString(raw)
	err := p.codes.Save(ctx, codeHash(code), AuthCode{
		ClientID:    c.ID,
		RedirectURI: req.RedirectURI,
		Challenge:   req.CodeChallenge,
		Nonce:       req.Nonce,
		Scopes:      scopes,
		UserID:      u.ID,
		AuthTime:    u.AuthTime,
		Expires:     p.now().Add(codeTTL),
	})
	if err != nil {
		return nil, p.unavailable("code store", err)
	}
	target, err := op.AuthResponseURL(req.RedirectURI, req.ResponseType, req.ResponseMode,
		&op.CodeResponseType{Code: code, State: req.State}, p.encoder)
	if err != nil {
		return nil, err
	}
	red := op.NewRedirect(target)
	noStore(red.Header)
	return red, nil
}
