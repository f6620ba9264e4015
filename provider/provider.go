package provider

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/rs/cors"
	httphelper "github.com/zitadel/oidc/v3/pkg/http"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

const (
	// codeTTL bounds an authorization code's life: RFC 6749 §4.1.2
	// recommends at most ten minutes; the code crosses one browser
	// redirect, so a minute is plenty.
	codeTTL = 60 * time.Second
	// consentTTL bounds how long a consent page may be left open.
	consentTTL = 10 * time.Minute
	// maxParamLen bounds state and nonce, which are stored with a code.
	maxParamLen = 1024
)

// Options are what the provider needs besides its config section: the
// tokens settings, the signing key and the implementations of its
// interfaces. Every interface is required.
type Options struct {
	Issuer string     // tokens.issuer: an https URL (validated)
	Prefix string     // auth_api.prefix, e.g. "/auth"
	Key    SigningKey // tokens' asymmetric key
	// JWKSURI is the existing JWKS endpoint's absolute URL. Default: the
	// issuer's origin + Prefix + "/jwks.json".
	JWKSURI string
	// LoginURL is the login page's path; the provider appends rd (the
	// authorization request to come back to) and, to ask for the form even
	// to a signed-in user, prompt=login. Default Prefix + "/login".
	LoginURL string
	// LogoutURL is the logout page (which asks before signing out);
	// RP-initiated logout without an id_token_hint goes there, with rd.
	// Default Prefix + "/logout".
	LogoutURL string
	// Stylesheet is a same-origin stylesheet the consent page links, e.g.
	// the login page's. Default: none.
	Stylesheet string

	Clients  ClientStore // default: the config's clients
	Codes    CodeStore
	Consents ConsentStore
	Accounts Accounts
	Tokens   Tokens
	Browser  Browser
	// ClientIP returns the address a request comes from, for the login
	// throttle of the password grant (the gateway's, which knows
	// trusted_proxies). Default: the connection's peer.
	ClientIP func(*http.Request) string
	Logger   *slog.Logger // default: discard
}

// Provider is authgate's OAuth 2.0 authorization server and OpenID
// provider. It implements zitadel's op.Server; Handler serves it.
type Provider struct {
	op.UnimplementedServer

	issuer    string
	origin    string // the issuer's scheme://host
	prefix    string
	jwksURI   string
	loginURL  string
	logoutURL string
	style     string
	endpoints op.Endpoints

	clients  ClientStore
	codes    CodeStore
	consents ConsentStore
	accounts Accounts
	tokens   Tokens
	browser  Browser
	clientIP func(*http.Request) string
	sign     *signer
	pages    *template.Template
	log      *slog.Logger

	handler       http.Handler
	encoder       httphelper.Encoder // of authorization responses: adds iss
	allowPassword bool               // some configured client may use the password grant

	// Set by tests before the handler is built; see newProvider.
	now  func() time.Time
	rand io.Reader
}

var _ op.Server = (*Provider)(nil)

// New checks opts and builds the provider for cfg (defaults applied,
// validated). It fails on anything a request would otherwise discover.
func New(cfg Config, opts Options) (*Provider, error) {
	return newProvider(cfg, opts, nil)
}

func newProvider(cfg Config, opts Options, setup func(*Provider)) (*Provider, error) {
	if !cfg.Enabled {
		return nil, errors.New("oauth2 provider: oauth2.enabled is false")
	}
	if msg := issuerProblem(opts.Issuer); msg != "" {
		return nil, fmt.Errorf("oauth2 provider: issuer: %s", msg)
	}
	pre := opts.Prefix
	if !strings.HasPrefix(pre, "/") || strings.HasSuffix(pre, "/") ||
		strings.ContainsFunc(pre, func(r rune) bool { return r != '/' && !isIDRune(r) }) {
		return nil, fmt.Errorf("oauth2 provider: prefix %q must start and not end with /, and hold only letters, digits and -._~/", pre)
	}
	required := []struct {
		name string
		v    any
	}{{"Codes", opts.Codes}, {"Consents", opts.Consents}, {"Accounts", opts.Accounts}, {"Tokens", opts.Tokens}, {"Browser", opts.Browser}}
	for _, r := range required {
		if r.v == nil {
			return nil, fmt.Errorf("oauth2 provider: Options.%s is required", r.name)
		}
	}
	s, err := newSigner(opts.Key)
	if err != nil {
		return nil, fmt.Errorf("oauth2 provider: %w", err)
	}
	pages, err := parsePages()
	if err != nil {
		return nil, fmt.Errorf("oauth2 provider: consent page: %w", err)
	}
	iss, _ := url.Parse(opts.Issuer)
	p := &Provider{
		issuer:    opts.Issuer,
		origin:    iss.Scheme + "://" + iss.Host,
		prefix:    pre,
		jwksURI:   opts.JWKSURI,
		loginURL:  opts.LoginURL,
		logoutURL: opts.LogoutURL,
		style:     opts.Stylesheet,
		clients:   opts.Clients,
		codes:     opts.Codes,
		consents:  opts.Consents,
		accounts:  opts.Accounts,
		tokens:    opts.Tokens,
		browser:   opts.Browser,
		clientIP:  opts.ClientIP,
		sign:      s,
		pages:     pages,
		log:       opts.Logger,
		now:       time.Now,
		rand:      rand.Reader,
	}
	if p.jwksURI == "" {
		p.jwksURI = p.origin + pre + "/jwks.json"
	}
	if p.loginURL == "" {
		p.loginURL = pre + "/login"
	}
	if p.logoutURL == "" {
		p.logoutURL = pre + "/logout"
	}
	if p.clientIP == nil {
		p.clientIP = peerIP
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.clients == nil {
		if p.clients, err = NewStaticClients(cfg.Clients); err != nil {
			return nil, fmt.Errorf("oauth2 provider: %w", err)
		}
	}
	for _, c := range cfg.Clients {
		p.allowPassword = p.allowPassword || slices.Contains(c.Grants, GrantPassword)
	}
	if setup != nil {
		setup(p)
	}
	p.endpoints = op.Endpoints{
		Authorization: op.NewEndpoint(p.path("authorize")),
		Token:         op.NewEndpoint(p.path("token")),
		Introspection: op.NewEndpoint(p.path("introspect")),
		Userinfo:      op.NewEndpoint(p.path("userinfo")),
		Revocation:    op.NewEndpoint(p.path("revoke")),
		EndSession:    op.NewEndpoint(p.path("logout")),
	}
	p.encoder = issEncoder{enc: oidc.NewEncoder(), issuer: p.issuer}
	p.handler = p.routes()
	return p, nil
}

// path is the path of endpoint name under {prefix}/oauth2/.
func (p *Provider) path(name string) string { return p.prefix + "/oauth2/" + name }

// url is the absolute URL of endpoint name.
func (p *Provider) url(name string) string { return p.origin + p.path(name) }

// corsOptions: the token, introspection, revocation and userinfo
// endpoints take no cookies, so any origin may call them (a single-page
// app is a public client). Credentials are never allowed: zitadel's
// default reflects every origin with credentials.
func corsOptions() *cors.Options {
	return &cors.Options{
		AllowedOrigins: []string{"*"},
		AllowedMethods: []string{http.MethodGet, http.MethodPost},
		AllowedHeaders: []string{"Authorization", "Content-Type"},
	}
}

func (p *Provider) routes() http.Handler {
	opts := []op.ServerOption{
		op.WithEncoder(p.encoder),
		op.WithServerCORSOptions(corsOptions()),
	}
	server := op.RegisterServer(p, p.endpoints, opts...)
	meta := op.RegisterMetadataServer(metadataServer{p: p}, op.WithServerCORSOptions(corsOptions()))

	basic := map[int]string{http.StatusUnauthorized: `Basic realm="authgate"`}
	bearer := map[int]string{
		http.StatusUnauthorized: `Bearer realm="authgate", error="invalid_token"`,
		http.StatusForbidden:    `Bearer realm="authgate", error="insufficient_scope", scope="openid"`,
	}
	mux := http.NewServeMux()
	// RFC 6749 §3.2, RFC 7662 §2.1, RFC 7009 §2.1: POST only, so that
	// credentials never travel in a URL. OPTIONS is CORS preflight.
	for _, name := range []string{"token", "introspect", "revoke"} {
		h := bodyOnly(server)
		if name == "token" {
			h = p.passwordFront(server)
		}
		mux.Handle("POST "+p.path(name), withChallenge(h, basic))
		mux.Handle("OPTIONS "+p.path(name), server)
	}
	mux.Handle("GET "+p.path("userinfo"), withChallenge(server, bearer))
	mux.Handle("POST "+p.path("userinfo"), withChallenge(server, bearer))
	mux.Handle("OPTIONS "+p.path("userinfo"), server)
	// OIDC Core §3.1.2.1, RP-Initiated Logout §2: GET and POST.
	for _, name := range []string{"authorize", "logout"} {
		mux.Handle("GET "+p.path(name), withRequest(server))
		mux.Handle("POST "+p.path(name), withRequest(server))
	}
	mux.HandleFunc("GET "+p.path("consent"), p.consentPage)
	for _, pat := range p.metadataPaths() {
		mux.Handle("GET "+pat, meta)
	}
	return mux
}

// Handler serves every endpoint of the provider. Mount it for each of
// Patterns.
func (p *Provider) Handler() http.Handler { return p.handler }

// Patterns are the paths Handler serves: {prefix}/oauth2/… and the
// well-known metadata paths for the issuer.
func (p *Provider) Patterns() []string {
	out := []string{}
	for _, name := range []string{"authorize", "token", "introspect", "revoke", "userinfo", "logout", "consent"} {
		out = append(out, p.path(name))
	}
	return append(out, p.metadataPaths()...)
}

// issEncoder adds iss to every authorization response zitadel encodes,
// success and error alike (RFC 9207 §2): a client talking to several
// authorization servers can tell which one answered (mix-up attacks).
type issEncoder struct {
	enc    httphelper.Encoder
	issuer string
}

func (e issEncoder) Encode(src any, dst map[string][]string) error {
	if err := e.enc.Encode(src, dst); err != nil {
		return err
	}
	dst["iss"] = []string{e.issuer}
	return nil
}

// peerIP is the host of the connection's remote address.
func peerIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// requestKey carries the incoming request past zitadel, whose Server
// methods receive only its method, URL, header and form: the Browser
// interface gets the request itself (Host, TLS, RemoteAddr included) for
// its cookie check.
type requestKey struct{}

func withRequest(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestKey{}, r)))
	})
}

// browserRequest returns the request a Server method serves, for the
// Browser interface; rebuilt from its parts if it did not come through
// withRequest.
func browserRequest(ctx context.Context, method string, u *url.URL, h http.Header) *http.Request {
	if r, ok := ctx.Value(requestKey{}).(*http.Request); ok {
		return r
	}
	r := &http.Request{Method: method, URL: u, Header: h, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
	return r.WithContext(ctx)
}
