package federation

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"time"

	"golang.org/x/oauth2"
)

// MaxReturnTo bounds the return path Begin keeps in the flow cookie, so the
// cookie stays far below the 4096 bytes browsers keep (RFC 6265 §6.1).
const MaxReturnTo = 2048

// flowState is what the flow cookie carries between Begin and Callback,
// sealed (AES-GCM, LabelFlowCookie) with the cookie's name as additional
// data. Only this browser holds it; nothing is stored server-side, so any
// instance can finish a sign-in another one started.
type flowState struct {
	Provider    string `json:"p"`
	State       string `json:"s"` // RFC 6749 §10.12: binds the callback to this browser
	Nonce       string `json:"n"` // OIDC Core §3.1.2.1: binds the ID token to this flow
	Verifier    string `json:"v"` // RFC 7636: PKCE, S256
	RedirectURI string `json:"u"` // the exact redirect_uri sent, repeated at the token endpoint
	ReturnTo    string `json:"r"`
	Expires     int64  `json:"e"` // Unix seconds
}

// Begin starts a sign-in with the provider called name: it sets the flow
// cookie and redirects the browser (302) to the provider's authorization
// endpoint with PKCE S256, state and, for OIDC, nonce.
//
// returnTo is where the caller wants the browser after the sign-in; the
// caller validates it (authn's rd rules) before Begin, and gets it back
// unchanged in Result.ReturnTo. Begin writes nothing when it returns an
// error: ErrUnknownProvider, ErrFlowInvalid (returnTo too long) or
// ErrProviderUnavailable (discovery failed).
func (f *Federation) Begin(w http.ResponseWriter, r *http.Request, name, returnTo string) error {
	p, err := f.provider(name)
	if err != nil {
		return err
	}
	if len(returnTo) > MaxReturnTo {
		return fmt.Errorf("%w: return path longer than %d bytes", ErrFlowInvalid, MaxReturnTo)
	}
	fl := &flowState{
		Provider:    name,
		State:       rand.Text(), // 128 bits each
		Nonce:       rand.Text(),
		Verifier:    oauth2.GenerateVerifier(),
		RedirectURI: f.redirectURL(r, name),
		ReturnTo:    returnTo,
		Expires:     f.now().Add(f.ttl).Unix(),
	}
	target, err := p.idp.authCodeURL(r.Context(), fl)
	if err != nil {
		return err
	}
	plain, err := json.Marshal(fl)
	if err != nil {
		return fmt.Errorf("flow cookie: %w", err)
	}
	sealed, err := f.flow.Seal(string(plain), f.cookieName)
	if err != nil {
		return fmt.Errorf("flow cookie: %w", err)
	}
	http.SetCookie(w, f.flowCookie(sealed, int(f.ttl/time.Second)))
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, target, http.StatusFound)
	return nil
}

// flowCookie is the flow cookie: __Host- (Secure, Path=/, no Domain),
// HttpOnly, and SameSite=Lax, which a top-level GET back from the provider
// still carries while a cross-site POST or subresource does not.
func (f *Federation) flowCookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: f.cookieName, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode,
	}
}

// Callback finishes the sign-in the provider sent the browser back for
// ({prefix}/callback/{name}). In order, it:
//   - takes the flow cookie (and clears it: a flow is used once, whatever
//     the outcome);
//   - compares state in constant time, checks the callback is the
//     provider's the flow started with, and RFC 9207's iss when sent;
//   - turns a provider error into ErrProviderDenied;
//   - redeems the code with the PKCE verifier and the same redirect_uri;
//   - for OIDC, verifies the ID token (signature against the provider's
//     JWKS with the algorithms it advertises — never none, never HS256 —,
//     issuer, audience, azp, expiry, nonce, at_hash) and fills missing
//     claims from userinfo after checking its sub; for github, reads the
//     user, the verified primary email and, as needed, orgs and teams;
//   - applies allowed_domains, allowed_orgs/teams and required_claims, and
//     maps roles.
//
// It creates no user and no session: the caller does, after Result.Admit.
func (f *Federation) Callback(w http.ResponseWriter, r *http.Request) (*Result, error) {
	fl, err := f.takeFlow(w, r)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(fl.State)) != 1 {
		return nil, fmt.Errorf("%w: state does not match", ErrFlowInvalid)
	}
	name := r.PathValue("name")
	if name == "" {
		name = path.Base(r.URL.Path)
	}
	if name != fl.Provider {
		return nil, fmt.Errorf("%w: callback for %.64q, but the sign-in started with %q", ErrFlowInvalid, name, fl.Provider)
	}
	p, err := f.provider(fl.Provider)
	if err != nil {
		return nil, err
	}
	if e := q.Get("error"); e != "" {
		// error_description is not repeated: providers echo request
		// parameters in it.
		return nil, fmt.Errorf("%w: %s answered %s", ErrProviderDenied, fl.Provider, safeCode(e))
	}
	// RFC 9207 §2.4: an authorization response's iss must be the issuer
	// the request went to; a different one is a mix-up attack.
	if q.Has("iss") && p.cfg.Type == TypeOIDC && q.Get("iss") != p.cfg.Issuer {
		return nil, fmt.Errorf("%w: the response's iss is not %s's issuer", ErrFlowInvalid, fl.Provider)
	}
	code := q.Get("code")
	if code == "" {
		return nil, fmt.Errorf("%w: no code in the callback", ErrFlowInvalid)
	}
	a, err := p.idp.redeem(r.Context(), code, fl)
	if err != nil {
		return nil, err
	}
	res, err := p.evaluate(a)
	if err != nil {
		return nil, err
	}
	res.ReturnTo = fl.ReturnTo
	return res, nil
}

// takeFlow reads, clears and opens the flow cookie.
func (f *Federation) takeFlow(w http.ResponseWriter, r *http.Request) (*flowState, error) {
	c, err := r.Cookie(f.cookieName)
	if err != nil {
		return nil, fmt.Errorf("%w: no flow cookie (blocked, expired, or the sign-in started in another browser)", ErrFlowInvalid)
	}
	http.SetCookie(w, f.flowCookie("", -1))
	plain, err := f.flow.Open(c.Value, f.cookieName)
	if err != nil {
		return nil, fmt.Errorf("%w: flow cookie: %w", ErrFlowInvalid, err)
	}
	var fl flowState
	if err := json.Unmarshal([]byte(plain), &fl); err != nil {
		return nil, fmt.Errorf("%w: flow cookie: %w", ErrFlowInvalid, ErrSealed)
	}
	if f.now().Unix() > fl.Expires {
		return nil, fmt.Errorf("%w: the sign-in took longer than %s", ErrFlowInvalid, f.ttl)
	}
	return &fl, nil
}

// EndSessionURL is where to send the browser, after authgate's own logout,
// to end the user's session at the provider too (OpenID Connect
// RP-Initiated Logout 1.0 §2): the provider's end_session_endpoint with
// id_token_hint, client_id and, when given, post_logout_redirect_uri (which
// must be registered at the provider). It is "" with no error when the
// provider has end_session off or advertises no endpoint: the caller then
// redirects where it would have anyway.
func (f *Federation) EndSessionURL(ctx context.Context, provider, idToken, postLogoutRedirect string) (string, error) {
	p, err := f.provider(provider)
	if err != nil {
		return "", err
	}
	if !p.cfg.EndSession {
		return "", nil
	}
	endpoint, err := p.idp.endSessionEndpoint(ctx)
	if err != nil || endpoint == "" {
		return "", err
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", fmt.Errorf("%w: %s: end_session_endpoint is not a URL", ErrProviderUnavailable, provider)
	}
	v := u.Query()
	if idToken != "" {
		v.Set("id_token_hint", idToken)
	}
	v.Set("client_id", p.cfg.ClientID)
	if postLogoutRedirect != "" {
		v.Set("post_logout_redirect_uri", postLogoutRedirect)
	}
	u.RawQuery = v.Encode()
	return u.String(), nil
}

// safeCode returns an OAuth error code as it may be logged and shown:
// RFC 6749 §5.2 codes are %x20-21 / %x23-5B / %x5D-7E; anything else, or
// anything long, is not a code.
func safeCode(s string) string {
	if s == "" || len(s) > 64 {
		return "an unrecognised error"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return "an unrecognised error"
		}
	}
	return s
}
