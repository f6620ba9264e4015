package federation

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

var _ idp = (*oidcIdP)(nil)

// oidcIdP is an OpenID Connect provider: go-oidc verifies, x/oauth2 talks
// the protocol; nothing here parses a JWT by hand.
type oidcIdP struct {
	cfg *ProviderConfig
	f   *Federation

	mu   sync.Mutex
	disc *discovered // nil until discovery has succeeded once
}

// discovered is what discovery (or the explicit endpoints) gave.
type discovered struct {
	provider   *oidc.Provider
	verifier   *oidc.IDTokenVerifier
	oauth      *oauth2.Config // shared: it caches the token endpoint's auth style
	userinfo   bool
	endSession string
}

func newOIDC(cfg *ProviderConfig, f *Federation) *oidcIdP { return &oidcIdP{cfg: cfg, f: f} }

// discover reads the provider's metadata once; a failure is retried on the
// next call. The algorithms ID tokens may be signed with are those the
// provider advertises (id_token_signing_alg_values_supported) that are
// asymmetric: a discovery document listing "none" or "HS256" does not make
// authgate accept them.
func (o *oidcIdP) discover(ctx context.Context) (*discovered, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.disc != nil {
		return o.disc, nil
	}
	ctx = oidc.ClientContext(ctx, o.f.client)
	var (
		prov       *oidc.Provider
		algs       []string
		endSession string
	)
	if o.cfg.explicitEndpoints() {
		prov = (&oidc.ProviderConfig{
			IssuerURL:   o.cfg.Issuer,
			AuthURL:     o.cfg.AuthorizationURL,
			TokenURL:    o.cfg.TokenURL,
			UserInfoURL: o.cfg.UserinfoURL,
			JWKSURL:     o.cfg.JWKSURL,
			Algorithms:  o.cfg.SigningAlgs,
		}).NewProvider(ctx)
		algs = o.cfg.SigningAlgs
		endSession = o.cfg.EndSessionURL
	} else {
		var err error
		prov, err = oidc.NewProvider(ctx, o.cfg.Issuer)
		if err != nil {
			err = fmt.Errorf("%w: %s: discovery at %s: %.200s", ErrProviderUnavailable, o.cfg.Name, o.cfg.Issuer, err.Error())
			o.f.log.Warn("identity provider discovery failed", "provider", o.cfg.Name, "error", err)
			return nil, err
		}
		var meta struct {
			Algs       []string `json:"id_token_signing_alg_values_supported"`
			EndSession string   `json:"end_session_endpoint"`
		}
		if err := prov.Claims(&meta); err != nil {
			return nil, fmt.Errorf("%w: %s: discovery document: %v", ErrProviderUnavailable, o.cfg.Name, err)
		}
		for _, a := range meta.Algs {
			if asymmetricAlgs[a] && !slices.Contains(algs, a) {
				algs = append(algs, a)
			}
		}
		if len(algs) == 0 {
			return nil, fmt.Errorf("%w: %s advertises no asymmetric ID token algorithm (id_token_signing_alg_values_supported %.100q)", ErrProviderUnavailable, o.cfg.Name, meta.Algs)
		}
		if meta.EndSession != "" && endpointProblem(meta.EndSession, false) == "" {
			endSession = meta.EndSession
		}
		if o.cfg.EndSession && endSession == "" {
			o.f.log.Warn("identity provider advertises no https end_session_endpoint: logout will not end the session there",
				"provider", o.cfg.Name)
		}
	}
	var urls struct {
		Userinfo string `json:"userinfo_endpoint"`
		JWKS     string `json:"jwks_uri"`
	}
	if o.cfg.explicitEndpoints() {
		urls.Userinfo, urls.JWKS = o.cfg.UserinfoURL, o.cfg.JWKSURL
	} else {
		_ = prov.Claims(&urls)
	}
	keys := watchedKeySet{oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), o.f.client), urls.JWKS)}
	o.disc = &discovered{
		provider: prov,
		verifier: oidc.NewVerifier(o.cfg.Issuer, keys, &oidc.Config{
			ClientID:             o.cfg.ClientID,
			SupportedSigningAlgs: algs,
			Now:                  func() time.Time { return o.f.now() },
		}),
		oauth: &oauth2.Config{
			ClientID:     o.cfg.ClientID,
			ClientSecret: o.cfg.ClientSecret,
			Endpoint:     prov.Endpoint(),
			Scopes:       o.cfg.Scopes,
		},
		userinfo:   urls.Userinfo != "",
		endSession: endSession,
	}
	return o.disc, nil
}

func (o *oidcIdP) authCodeURL(ctx context.Context, fl *flowState) (string, error) {
	d, err := o.discover(ctx)
	if err != nil {
		return "", err
	}
	opts := authParams(o.cfg)
	opts = append(opts,
		oauth2.SetAuthURLParam("redirect_uri", fl.RedirectURI),
		oauth2.S256ChallengeOption(fl.Verifier),
		oidc.Nonce(fl.Nonce))
	return d.oauth.AuthCodeURL(fl.State, opts...), nil
}

func (o *oidcIdP) redeem(ctx context.Context, code string, fl *flowState) (*assertion, error) {
	d, err := o.discover(ctx)
	if err != nil {
		return nil, err
	}
	ctx = o.clientContext(ctx)
	tok, err := d.oauth.Exchange(ctx, code,
		oauth2.VerifierOption(fl.Verifier),
		oauth2.SetAuthURLParam("redirect_uri", fl.RedirectURI))
	if err != nil {
		return nil, exchangeError(o.cfg.Name, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, fmt.Errorf("%w: %s: the token response has no id_token (is openid among the scopes?)", ErrIDTokenInvalid, o.cfg.Name)
	}
	idt, claims, err := o.verify(ctx, d, raw, tok)
	if err != nil {
		return nil, err
	}
	// OIDC Core §3.1.3.7 item 11: the nonce must be the one this browser's
	// flow sent; an ID token from another flow (injected or replayed)
	// fails here.
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(fl.Nonce)) != 1 {
		return nil, fmt.Errorf("%w: %s: nonce does not match this sign-in", ErrIDTokenInvalid, o.cfg.Name)
	}
	a := o.assertion(idt.Subject, claims, tok, raw)
	if err := o.fillFromUserinfo(ctx, d, a, tok); err != nil {
		return nil, err
	}
	return a, nil
}

func (o *oidcIdP) refresh(ctx context.Context, subject, refreshToken string) (*assertion, error) {
	d, err := o.discover(ctx)
	if err != nil {
		return nil, err
	}
	ctx = o.clientContext(ctx)
	tok, err := d.oauth.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
	if err != nil {
		return nil, refreshError(o.cfg.Name, err)
	}
	claims := map[string]any{}
	raw, _ := tok.Extra("id_token").(string)
	if raw != "" {
		idt, c, err := o.verify(ctx, d, raw, tok)
		if errors.Is(err, ErrIDTokenInvalid) {
			return nil, fmt.Errorf("%w: %w", ErrRevoked, err)
		}
		if err != nil {
			return nil, err
		}
		// OIDC Core §12.2: a refreshed ID token is about the same subject.
		if idt.Subject != subject {
			return nil, fmt.Errorf("%w: %w: %s: the refreshed ID token is about another subject", ErrRevoked, ErrIDTokenInvalid, o.cfg.Name)
		}
		claims = c
	}
	a := o.assertion(subject, claims, tok, raw)
	if err := o.fillFromUserinfo(ctx, d, a, tok); err != nil {
		if errors.Is(err, ErrIDTokenInvalid) {
			return nil, fmt.Errorf("%w: %w", ErrRevoked, err)
		}
		return nil, err
	}
	return a, nil
}

func (o *oidcIdP) endSessionEndpoint(ctx context.Context) (string, error) {
	d, err := o.discover(ctx)
	if err != nil {
		return "", err
	}
	return d.endSession, nil
}

func (o *oidcIdP) clientContext(ctx context.Context) context.Context {
	return context.WithValue(oidc.ClientContext(ctx, o.f.client), oauth2.HTTPClient, o.f.client)
}

func (o *oidcIdP) assertion(subject string, claims map[string]any, tok *oauth2.Token, idToken string) *assertion {
	return &assertion{
		issuer:       o.cfg.Issuer,
		subject:      subject,
		claims:       claims,
		accessToken:  tok.AccessToken,
		refreshToken: tok.RefreshToken,
		expiry:       tok.Expiry,
		idToken:      idToken,
	}
}

// verify checks an ID token with go-oidc (signature against the JWKS with
// the allowed algorithms, issuer, audience, expiry), then what go-oidc
// leaves to the caller: azp (OIDC Core §3.1.3.7 items 4-5) and at_hash
// (§3.1.3.8, when present).
func (o *oidcIdP) verify(ctx context.Context, d *discovered, raw string, tok *oauth2.Token) (*oidc.IDToken, map[string]any, error) {
	watch := new(keyFetchWatch)
	idt, err := d.verifier.Verify(context.WithValue(ctx, keyFetchWatchKey{}, watch), raw)
	if err != nil {
		if watch.failed.Load() {
			return nil, nil, fmt.Errorf("%w: %s: cannot fetch the signing keys (jwks_uri): %.200s", ErrProviderUnavailable, o.cfg.Name, err.Error())
		}
		return nil, nil, fmt.Errorf("%w: %s: %.200s", ErrIDTokenInvalid, o.cfg.Name, err.Error())
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return nil, nil, fmt.Errorf("%w: %s: claims: %v", ErrIDTokenInvalid, o.cfg.Name, err)
	}
	azp, hasAZP := claims["azp"].(string)
	if (len(idt.Audience) > 1 || hasAZP) && azp != o.cfg.ClientID {
		return nil, nil, fmt.Errorf("%w: %s: azp is not this client", ErrIDTokenInvalid, o.cfg.Name)
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return nil, nil, fmt.Errorf("%w: %s: at_hash does not match the access token", ErrIDTokenInvalid, o.cfg.Name)
		}
	}
	if idt.Subject == "" {
		return nil, nil, fmt.Errorf("%w: %s: no sub", ErrIDTokenInvalid, o.cfg.Name)
	}
	return idt, claims, nil
}

// fillFromUserinfo adds the claims the decisions need and the ID token
// lacks (many providers put email or groups only in userinfo, and OIDC Core
// §5.4 keeps profile and email out of the ID token when an access token is
// issued) from the userinfo endpoint. Claims the ID token has win. The
// userinfo answer must be about the same subject (§5.3.4).
func (o *oidcIdP) fillFromUserinfo(ctx context.Context, d *discovered, a *assertion, tok *oauth2.Token) error {
	if !d.userinfo || !o.missingClaims(a.claims) {
		return nil
	}
	ui, err := d.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return fmt.Errorf("%w: %s: userinfo: %.200s", ErrProviderUnavailable, o.cfg.Name, err.Error())
	}
	if subtle.ConstantTimeCompare([]byte(ui.Subject), []byte(a.subject)) != 1 {
		return fmt.Errorf("%w: %s: userinfo is about another subject", ErrIDTokenInvalid, o.cfg.Name)
	}
	var extra map[string]any
	if err := ui.Claims(&extra); err != nil {
		return fmt.Errorf("%w: %s: userinfo: %v", ErrProviderUnavailable, o.cfg.Name, err)
	}
	for k, v := range extra {
		if _, ok := a.claims[k]; !ok {
			a.claims[k] = v
		}
	}
	return nil
}

// missingClaims reports whether a claim the decisions read is absent.
func (o *oidcIdP) missingClaims(claims map[string]any) bool {
	if _, ok := claims["email"]; !ok {
		return true
	}
	if o.cfg.RolesClaim != "" {
		if _, ok := lookup(claims, o.cfg.RolesClaim); !ok {
			return true
		}
	}
	for path := range o.cfg.RequiredClaims {
		if _, ok := lookup(claims, path); !ok {
			return true
		}
	}
	return false
}

// authParams are the configured extra authorization request parameters,
// in a stable order.
func authParams(cfg *ProviderConfig) []oauth2.AuthCodeOption {
	var opts []oauth2.AuthCodeOption
	for _, k := range sortedKeys(cfg.AuthParams) {
		opts = append(opts, oauth2.SetAuthURLParam(k, cfg.AuthParams[k]))
	}
	return opts
}

// watchedKeySet is go-oidc's RemoteKeySet, noting in the request's context
// when the keys could not be fetched. go-oidc reports that and a bad
// signature alike (as text), but they mean opposite things: the provider
// is down (retry; keep sessions) or the token is forged (refuse).
// RemoteKeySet wraps fetch failures with %w and a signature mismatch not at
// all, which is what tells them apart here.
type watchedKeySet struct{ inner oidc.KeySet }

type keyFetchWatchKey struct{}

type keyFetchWatch struct{ failed atomic.Bool }

func (k watchedKeySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	payload, err := k.inner.VerifySignature(ctx, jwt)
	if err != nil && errors.Unwrap(err) != nil {
		if w, ok := ctx.Value(keyFetchWatchKey{}).(*keyFetchWatch); ok {
			w.failed.Store(true)
		}
	}
	return payload, err
}
