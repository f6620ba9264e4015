package authn

import (
	"html/template"
	"net/http"
	"slices"
	"strings"

	"github.com/authgate/authgate/internal/problem"
)

// The /auth HTTP layer: the JSON API (register, login, refresh, logout, me,
// jwks), the browser login and logout pages, the OpenAPI document and the
// Swagger UI. Handlers parse and answer; the account service decides; errors
// go to s.fail, which answers them by internal/problem's one table.

// webAPI is what New builds once for the HTTP layer.
type webAPI struct {
	handler   http.Handler
	prefix    string
	csrfKey   []byte             // HMAC key binding the CSRF field to the CSRF cookie
	loopPaths []string           // lower-case paths rd must not lead back to
	csp       string             // Content-Security-Policy of the HTML pages
	pages     *template.Template // login and logout pages
	openapi   []byte             // the OpenAPI document with prefix and cookie names filled in
	docs      docsAssets         // Swagger UI
	endpoints []endpoint         // what handler routes under the prefix
}

// endpoint is one method and path (relative to the prefix) of the API.
type endpoint struct {
	method  string
	path    string
	handler http.HandlerFunc
}

// initWeb validates the auth_api section and builds the handler. It runs
// once, in New.
func (s *Service) initWeb() error {
	if err := s.cfg.Validate(); err != nil {
		return err
	}
	prefix := s.cfg.Prefix
	w := &s.web
	w.prefix = prefix
	w.csp = pageCSPFor(s.redirectHosts)
	for _, loop := range []string{"/login", "/logout", "/refresh"} {
		w.loopPaths = append(w.loopPaths, strings.ToLower(prefix+loop))
	}
	var err error
	if w.csrfKey, err = s.tokens.DerivedKey(csrfKeyLabel); err != nil {
		return err
	}
	if w.pages, err = parsePages(); err != nil {
		return err
	}
	if w.openapi, err = openAPIDocument(prefix, s.cfg.CookieName); err != nil {
		return err
	}
	if w.docs, err = newDocsAssets(prefix); err != nil {
		return err
	}
	w.endpoints = []endpoint{
		{http.MethodPost, "/register", s.handleRegister},
		{http.MethodGet, "/login", s.handleLoginPage},
		{http.MethodPost, "/login", s.handleLogin},
		{http.MethodGet, "/refresh", s.handleBrowserRefresh},
		{http.MethodPost, "/refresh", s.handleRefresh},
		{http.MethodGet, "/logout", s.handleLogoutPage},
		{http.MethodPost, "/logout", s.handleLogout},
		{http.MethodGet, "/me", s.handleMe},
		{http.MethodGet, "/me/identities", s.handleMyIdentities},
		{http.MethodDelete, "/me/identities/{id}", s.handleUnlinkIdentity},
		{http.MethodGet, "/login/{provider}", s.handleProviderLogin},
		{http.MethodGet, "/callback/{name}", s.handleProviderCallback},
		{http.MethodGet, "/jwks.json", s.handleJWKS},
		{http.MethodGet, "/login.css", s.handleLoginCSS},
		{http.MethodGet, "/openapi.json", s.handleOpenAPI},
		{http.MethodGet, "/docs", s.handleDocs},
		{http.MethodGet, "/docs/{asset}", s.handleDocsAsset},
	}
	w.handler = s.newMux(w.endpoints)
	return nil
}

// Handler serves the auth API: every request whose canonical path is under
// auth_api.prefix, and /.well-known/jwks.json. The gateway hands requests
// over with URL.Path already canonical, and the client address set with
// WithClientIP.
func (s *Service) Handler() http.Handler { return s.web.handler }

// newMux routes the endpoints under the prefix. A known path asked with
// another method is 405 with Allow (RFC 9110 §15.5.6); an unknown path is
// 404. Both are problem documents, like every other error.
func (s *Service) newMux(eps []endpoint) http.Handler {
	mux := http.NewServeMux()
	allow := map[string][]string{}
	var paths []string
	add := func(method, path string, h http.HandlerFunc) {
		mux.HandleFunc(method+" "+path, h)
		if _, ok := allow[path]; !ok {
			paths = append(paths, path)
		}
		allow[path] = append(allow[path], method)
		if method == http.MethodGet {
			allow[path] = append(allow[path], http.MethodHead) // ServeMux serves HEAD with GET
		}
	}
	for _, ep := range eps {
		add(ep.method, s.web.prefix+ep.path, ep.handler)
	}
	// RFC 8615 well-known location of the key set, outside the prefix.
	add(http.MethodGet, "/.well-known/jwks.json", s.handleJWKS)
	for _, path := range paths {
		methods := allow[path]
		slices.Sort(methods)
		allowed := strings.Join(methods, ", ")
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allowed)
			s.fail(w, r, problem.ErrMethodNotAllowed)
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { s.fail(w, r, problem.ErrNotFound) })
	return securityHeaders(s.withDeadlines(mux))
}

// securityHeaders sets what every answer of the auth API carries: no MIME
// sniffing, and no answer of ours in a frame.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

// noStore marks an answer that carries a token or personal data: no cache
// may keep it (RFC 6749 §5.1; Pragma for HTTP/1.0 caches).
func noStore(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}
