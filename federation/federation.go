package federation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Options are what the caller supplies besides the config section.
type Options struct {
	// Secret keys the flow cookie (HKDF label LabelFlowCookie): at least
	// MinSecretLen bytes of random key material, the same on every
	// instance (a sign-in may start on one and come back to another).
	// Required.
	Secret []byte
	// Prefix is auth_api.prefix; the callback is Prefix + "/callback/" +
	// name. Default "/auth".
	Prefix string
	// CookieName names the flow cookie, sent as "__Host-" + CookieName
	// (Secure, Path=/, no Domain: RFC 6265bis §4.1.3.2). Default
	// "authgate-federation".
	CookieName string
	// FlowTTL bounds how long a user may take at the provider between
	// Begin and Callback. Default 10m.
	FlowTTL time.Duration
	// RedirectURL returns the absolute callback URL for provider name, as
	// registered at the provider. Default: "https://" + r.Host + Prefix +
	// "/callback/" + name, with r.Host as the gateway canonicalised it.
	RedirectURL func(r *http.Request, name string) string
	// HTTPClient makes every request to the providers (discovery, JWKS,
	// token, userinfo, GitHub API). Default: 10s timeout per request.
	HTTPClient *http.Client
	// Logger receives discovery failures and other warnings; never a token,
	// code, state or secret. Default: discard.
	Logger *slog.Logger
}

// Federation signs users in with the configured identity providers. It is
// safe for concurrent use; its configuration is fixed at New.
type Federation struct {
	providers map[string]*provider
	order     []*provider // as configured, for the login page

	flow        *TokenCipher
	cookieName  string
	prefix      string
	ttl         time.Duration
	redirectURL func(*http.Request, string) string
	client      *http.Client
	log         *slog.Logger
	now         func() time.Time // tests set it
}

// provider is one configured provider with what New derived from its
// config.
type provider struct {
	cfg     ProviderConfig
	idp     idp
	roles   roleMapper
	domains []string // allowed_domains, lower case
	orgs    []string // allowed_orgs, lower case
	teams   []string // allowed_teams, lower case
}

// idp is one kind of identity provider: where to send the browser, how to
// redeem the code it comes back with, and how to ask again later.
type idp interface {
	authCodeURL(ctx context.Context, fl *flowState) (string, error)
	redeem(ctx context.Context, code string, fl *flowState) (*assertion, error)
	refresh(ctx context.Context, subject, refreshToken string) (*assertion, error)
	// endSessionEndpoint is the RP-initiated logout endpoint, or "".
	endSessionEndpoint(ctx context.Context) (string, error)
}

// assertion is what a provider said about a user, verified, before
// restrictions and role mapping.
type assertion struct {
	issuer  string // the configured issuer (Google's scheme-less iss is normalised)
	subject string
	claims  map[string]any
	// The provider's tokens: never logged, never in an error.
	accessToken  string
	refreshToken string
	expiry       time.Time
	idToken      string
}

// ProviderInfo is what a login page shows for a provider.
type ProviderInfo struct {
	Name        string // for the start URL, e.g. {prefix}/login/{name}
	DisplayName string // the button's text
	Type        string // oidc | github, e.g. for an icon
	// Issuer with a linked identity's subject is the identity's key; a
	// session whose provider was renamed in config is found again by it.
	Issuer string
	// Recheck: the provider manages roles or restricts who may sign in, so
	// a session through it must not be refreshed without asking the
	// provider again (RefreshRoles' ErrNoRefreshToken then ends it).
	Recheck bool
}

// New builds a Federation from cfg, with SetDefaults already applied (the
// loader applies them once). It validates cfg (the same Validate the loader
// runs, so it finds nothing `authgate check` did not) and opts, and makes no
// network call: each OIDC provider's discovery runs at its first use and is
// retried on the next use until it succeeds, so a provider that is down
// does not stop authgate from starting.
func New(cfg Config, opts Options) (*Federation, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	flow, err := newCipher(opts.Secret, LabelFlowCookie)
	if err != nil {
		return nil, err
	}
	f := &Federation{
		providers:   map[string]*provider{},
		flow:        flow,
		cookieName:  "__Host-" + orDefault(opts.CookieName, "authgate-federation"),
		prefix:      orDefault(opts.Prefix, "/auth"),
		ttl:         opts.FlowTTL,
		redirectURL: opts.RedirectURL,
		client:      opts.HTTPClient,
		log:         opts.Logger,
		now:         time.Now,
	}
	if !isCookieName(f.cookieName) {
		return nil, fmt.Errorf("federation: cookie name %q is not a valid cookie name", opts.CookieName)
	}
	if !strings.HasPrefix(f.prefix, "/") || strings.HasSuffix(f.prefix, "/") {
		return nil, fmt.Errorf("federation: prefix %q must start with / and not end with /", f.prefix)
	}
	if f.ttl == 0 {
		f.ttl = 10 * time.Minute
	}
	if f.redirectURL == nil {
		f.redirectURL = func(r *http.Request, name string) string {
			return "https://" + r.Host + f.prefix + "/callback/" + name
		}
	}
	if f.client == nil {
		f.client = &http.Client{Timeout: 10 * time.Second}
	}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	for _, pc := range cfg.IdentityProviders {
		p := &provider{cfg: pc, roles: newRoleMapper(&pc)}
		for _, d := range pc.AllowedDomains {
			p.domains = append(p.domains, strings.ToLower(d))
		}
		for _, o := range pc.AllowedOrgs {
			p.orgs = append(p.orgs, strings.ToLower(o))
		}
		for _, t := range pc.AllowedTeams {
			p.teams = append(p.teams, strings.ToLower(t))
		}
		switch pc.Type {
		case TypeOIDC:
			p.idp = newOIDC(&p.cfg, f)
		case TypeGitHub:
			p.idp = newGitHub(&p.cfg, f)
		}
		f.providers[pc.Name] = p
		f.order = append(f.order, p)
	}
	return f, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// isCookieName: an RFC 6265 §4.1.1 token.
func isCookieName(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return s != ""
}

// Providers lists the configured providers in config order.
func (f *Federation) Providers() []ProviderInfo {
	out := make([]ProviderInfo, 0, len(f.order))
	for _, p := range f.order {
		out = append(out, ProviderInfo{Name: p.cfg.Name, DisplayName: p.cfg.DisplayName, Type: p.cfg.Type, Issuer: p.cfg.Issuer,
			Recheck: p.roles.manages() || p.cfg.restricted()})
	}
	return out
}

// CookieName is the flow cookie's name, "__Host-" + Options.CookieName:
// the gateway keeps it from backends like its own cookies.
func (f *Federation) CookieName() string { return f.cookieName }

// CallbackPath is the path the provider sends the browser back to:
// {prefix}/callback/{name} (DESIGN.md).
func (f *Federation) CallbackPath(name string) string { return f.prefix + "/callback/" + name }

func (f *Federation) provider(name string) (*provider, error) {
	p, ok := f.providers[name]
	if !ok {
		return nil, fmt.Errorf("%w: %.64q", ErrUnknownProvider, name)
	}
	return p, nil
}

// Result is a verified sign-in. Callback returns it; the caller's account
// layer decides with Admit what to do, and does it.
type Result struct {
	Provider string // the provider's configured name
	// Issuer and Subject identify the user at the provider; together they
	// are the key of a linked identity (OIDC Core §2: sub is unique only
	// per issuer). For github, Issuer is the configured issuer and
	// Subject GitHub's numeric user id (logins can be renamed).
	Issuer  string
	Subject string

	Email         string
	EmailVerified bool   // the provider vouches for Email
	Username      string // preferred_username, or the GitHub login; a hint only
	Name          string

	// Roles are the authgate roles the provider grants, sorted, when
	// ManagesRoles; then they replace the user's roles at every sign-in
	// and refresh (an empty list means: none). When !ManagesRoles they are
	// nil and the user keeps the roles given locally.
	Roles        []string
	ManagesRoles bool

	// RefreshToken is the provider's refresh token: keep it server-side,
	// sealed with TokenCipher, for RefreshRoles. "" when the provider
	// issued none.
	RefreshToken string
	// Expiry is when the provider's access token expires (zero: unknown).
	Expiry time.Time
	// IDToken is the raw ID token, kept only when the provider has
	// end_session on: EndSessionURL needs it as id_token_hint.
	IDToken string
	// AccessToken is the provider's access token, kept only when the
	// provider has pass_token on.
	AccessToken string

	// ReturnTo is the returnTo given to Begin, unchanged.
	ReturnTo string

	// The provider's account policy, for Admit.
	AllowSignup  bool
	TrustedEmail bool
}

// evaluate applies p's restrictions to a verified assertion and maps its
// claims to roles.
func (p *provider) evaluate(a *assertion) (*Result, error) {
	email := strings.TrimSpace(claimString(a.claims, "email"))
	verified := email != "" && claimTrue(a.claims, "email_verified")
	name := p.cfg.Name
	if len(p.domains) > 0 {
		if !verified {
			return nil, fmt.Errorf("%w: %s: allowed_domains needs an email address the provider has verified", ErrEmailNotVerified, name)
		}
		at := strings.LastIndexByte(email, '@')
		domain := strings.TrimSuffix(strings.ToLower(email[at+1:]), ".")
		if at < 0 || !slices.Contains(p.domains, domain) {
			return nil, fmt.Errorf("%w: %s: email domain %.64q is not in allowed_domains", ErrNotAllowed, name, domain)
		}
	}
	if len(p.orgs)+len(p.teams) > 0 && !memberOfAny(a.claims, p.orgs, p.teams) {
		return nil, fmt.Errorf("%w: %s: not a member of allowed_orgs or allowed_teams", ErrNotAllowed, name)
	}
	for _, path := range sortedKeys(p.cfg.RequiredClaims) {
		if !claimHas(a.claims, path, p.cfg.RequiredClaims[path]) {
			return nil, fmt.Errorf("%w: %s: claim %.64q does not have the required value", ErrNotAllowed, name, path)
		}
	}
	username := claimString(a.claims, "preferred_username")
	if username == "" {
		username = claimString(a.claims, "login")
	}
	r := &Result{
		Provider:      name,
		Issuer:        a.issuer,
		Subject:       a.subject,
		Email:         email,
		EmailVerified: verified,
		Username:      username,
		Name:          claimString(a.claims, "name"),
		Roles:         p.roles.roles(a.claims),
		ManagesRoles:  p.roles.manages(),
		RefreshToken:  a.refreshToken,
		Expiry:        a.expiry,
		AllowSignup:   p.cfg.AllowSignup == nil || *p.cfg.AllowSignup,
		TrustedEmail:  p.cfg.TrustedEmail,
	}
	if p.cfg.EndSession {
		r.IDToken = a.idToken
	}
	if p.cfg.PassToken {
		r.AccessToken = a.accessToken
	}
	return r, nil
}

func memberOfAny(claims map[string]any, orgs, teams []string) bool {
	for _, o := range orgs {
		if claimHas(claims, claimOrgs, o) {
			return true
		}
	}
	for _, t := range teams {
		if claimHas(claims, claimTeams, t) {
			return true
		}
	}
	return false
}

// RefreshRoles asks provider again about subject, with the refresh token
// kept from the sign-in (or the previous refresh), and returns the roles it
// grants now and the refresh token to keep from now on (the provider may
// have rotated it: store it before answering the client, or the next
// refresh fails).
//
// Errors:
//   - ErrRevoked: the provider refused the refresh token (invalid_grant:
//     the user was disabled or removed there), answered about another
//     subject, or the user no longer passes the restrictions. End the
//     authgate session and revoke its tokens through the denylist.
//   - ErrProviderUnavailable: nothing is known; keep the session, answer
//     503, let the client retry.
//   - ErrNoRefreshToken: refreshToken is "". If the provider manages
//     roles (or restricts who may sign in), end the session at its next
//     refresh so the user signs in at the provider again (usually without
//     typing anything); otherwise keep the local roles.
//
// When the provider does not manage roles, roles is nil (keep the user's
// own) and the restrictions are still checked.
func (f *Federation) RefreshRoles(ctx context.Context, provider, subject, refreshToken string) (roles []string, newRefreshToken string, err error) {
	p, err := f.provider(provider)
	if err != nil {
		return nil, "", err
	}
	if refreshToken == "" {
		return nil, "", fmt.Errorf("%w: %s", ErrNoRefreshToken, provider)
	}
	a, err := p.idp.refresh(ctx, subject, refreshToken)
	if err != nil {
		return nil, "", err
	}
	r, err := p.evaluate(a)
	if err != nil {
		if errors.Is(err, ErrNotAllowed) || errors.Is(err, ErrEmailNotVerified) {
			return nil, "", fmt.Errorf("%w: %w", ErrRevoked, err)
		}
		return nil, "", err
	}
	if a.refreshToken == "" {
		a.refreshToken = refreshToken
	}
	return r.Roles, a.refreshToken, nil
}
