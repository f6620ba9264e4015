package authn

import (
	"cmp"
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/authgate/authgate/accounts"
	"github.com/authgate/authgate/denylist"
	"github.com/authgate/authgate/internal/problem"
	"github.com/authgate/authgate/tokens"
)

// Options are what the gateway hands the auth API besides its config.
type Options struct {
	// Logger logs the errors that are no expected outcome; nil logs
	// nothing.
	Logger *slog.Logger
	// RequestTimeout bounds one request of the API — database, Redis and
	// password hashing included — before it answers 503: the gateway
	// passes database.timeout. 0: no bound.
	RequestTimeout time.Duration
	// RedirectHosts are the hosts besides our own that the login and
	// logout pages may send a browser back to with an absolute rd
	// (forward-auth: apps on other hosts of the site). An entry is a host
	// name in lower case, or "*.example.com" for exactly one label under
	// example.com. Empty: rd must be a path on our own origin.
	RedirectHosts []string
	// BodyTimeout bounds how long a client may take to send the body of
	// a request. The gateway passes limits.read_header_timeout: one bound
	// on what a slow client may make it wait for before it can answer. 0:
	// no bound.
	BodyTimeout time.Duration
}

// Service is the /auth HTTP layer over the account service: the JSON API,
// the browser pages, the OpenAPI document, and the authentication of
// protected requests (Authenticate).
type Service struct {
	cfg      Config
	logger   *slog.Logger
	accounts *accounts.Service
	tokens   *tokens.AccessTokens
	deny     denylist.Denylist

	requestTimeout time.Duration // Options.RequestTimeout
	bodyTimeout    time.Duration // Options.BodyTimeout

	cookies       cookieNames
	redirectHosts []string  // Options.RedirectHosts
	rand          io.Reader // CSRF cookie values; tests set it

	web webAPI // the handler and what it serves, built once by New (api.go)

	// formTarget, set by SetFormTarget before the gateway serves, widens
	// the login page's CSP form-action for an rd that redirects on to
	// another origin (the OAuth2 provider's clients).
	formTarget func(ctx context.Context, rd string) string
}

// cookieNames are the gateway's cookies. The access cookie uses the
// __Host- prefix (Secure, Path=/, no Domain: no subdomain can set or
// shadow it). The refresh cookie is scoped to the refresh endpoint, which
// __Host- forbids (it requires Path=/), so it uses __Secure-.
//
// With auth_api.cookie_domain the access cookie is __Secure-<name> with a
// Domain instead: __Host- forbids a Domain.
type cookieNames struct {
	access  string // __Host-<name>, or __Secure-<name> with a cookie domain
	refresh string // __Secure-<name>-refresh
	csrf    string // __Host-<name>-csrf
}

func newCookieNames(name, domain string) cookieNames {
	access := "__Host-" + name
	if domain != "" {
		access = "__Secure-" + name
	}
	return cookieNames{
		access:  access,
		refresh: "__Secure-" + name + "-refresh",
		csrf:    "__Host-" + name + "-csrf",
	}
}

// New builds the auth API for the auth_api section cfg (SetDefaults
// applied; validated again here, by the loader's rules) over the account
// service acc, whose tokens and denylist authenticate requests.
func New(cfg Config, acc *accounts.Service, opts Options) (*Service, error) {
	logger := cmp.Or(opts.Logger, slog.New(slog.DiscardHandler))
	s := &Service{
		cfg:            cfg,
		logger:         logger,
		accounts:       acc,
		tokens:         acc.Tokens(),
		deny:           acc.Denylist(),
		requestTimeout: opts.RequestTimeout,
		bodyTimeout:    opts.BodyTimeout,
		cookies:        newCookieNames(cfg.CookieName, cfg.CookieDomain),
		redirectHosts:  opts.RedirectHosts,
		rand:           rand.Reader,
	}
	if err := s.initWeb(); err != nil {
		return nil, err
	}
	return s, nil
}

// CookieNames are the cookies the gateway owns. The proxy removes them
// from requests (unless a route forwards tokens) and from upstream
// responses.
func (s *Service) CookieNames() []string {
	names := []string{s.cookies.access, s.cookies.refresh, s.cookies.csrf}
	if s.accounts.Federation() != nil {
		// The sign-in flow cookie (state, nonce, PKCE verifier, sealed) is
		// ours too: a backend never sees it.
		names = append(names, s.accounts.Federation().CookieName())
	}
	return names
}

// fail answers r with the problem document for err (internal/problem) and
// logs an unexpected one.
func (s *Service) fail(w http.ResponseWriter, r *http.Request, err error) {
	if s.compat() && s.failFastAPI(w, err) {
		return
	}
	problem.WriteLogged(w, r, err, s.logger)
}
