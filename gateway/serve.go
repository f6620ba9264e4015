package gateway

import (
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/identity"
	"github.com/authgate/authgate/internal/problem"
	"github.com/authgate/authgate/upstream"
)

// publicHandler is the handler of the https listener (or of the http one
// when tls.mode is off): the auth API, then the routes.
func (s *Server) publicHandler(https bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serve(w, r, https)
	})
}

// exchange is the per-request state of the public handler, pooled so the
// hot path does not allocate it.
type exchange struct {
	rec     recorder
	forward upstream.Forward
	route   string // route name for logs and metrics
	ref     string // upstream reference
	userID  string
}

var exchanges = sync.Pool{New: func() any { return new(exchange) }}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, https bool) {
	start := time.Now()
	rt := s.routing.Load()
	x := exchanges.Get().(*exchange)
	x.rec.reset(w)

	ip, trustedPeer := clientIP(r.RemoteAddr, r.Header, rt.trusted)
	reqID := s.requestID(r, trustedPeer)
	h := x.rec.Header()
	h.Set("X-Request-Id", reqID)
	if https && s.hsts != "" {
		h.Set("Strict-Transport-Security", s.hsts)
	}
	if r.ProtoMajor == 1 && len(r.TransferEncoding) > 0 {
		// RFC 9112 §6.1: after a request with both Content-Length and
		// Transfer-Encoding the server MUST close the connection, or bytes
		// that a front proxy framed by Content-Length are read here as a
		// request of their own (smuggling, §11.2). Go's server reads such
		// a request by its chunking but deletes Content-Length before any
		// handler sees it, so every chunked HTTP/1.1 request is treated as
		// one. Browsers never send chunked requests.
		h.Set("Connection", "close")
	}

	s.dispatch(x, r, rt, https, ip, trustedPeer, reqID)

	end := time.Now()
	elapsed := end.Sub(start)
	status := x.rec.status
	if status == 0 {
		status = http.StatusOK
	}
	s.metrics.requests.WithLabelValues(x.route, s.metrics.code(status)).Inc()
	s.metrics.duration.WithLabelValues(x.route).Observe(elapsed.Seconds())
	if s.accessLog {
		// Never the query string (it may carry a token or a password reset
		// code) and never a header value: only what is safe to keep.
		s.access.log(r.Context(), end, &accessEntry{
			requestID: reqID,
			method:    r.Method,
			host:      r.Host,
			path:      r.URL.Path,
			status:    status,
			bytes:     x.rec.bytes,
			duration:  elapsed,
			route:     x.route,
			upstream:  x.ref,
			userID:    x.userID,
			clientIP:  ip,
		})
	}
	*x = exchange{}
	exchanges.Put(x)
}

// dispatch canonicalises the path, picks the auth API or a route, and
// answers.
func (s *Server) dispatch(x *exchange, r *http.Request, rt *routing, https bool, ip netip.Addr, trustedPeer bool, reqID string) {
	w := &x.rec
	// One reading of the host decides the route and is what the upstream
	// is told: a Host the parser refuses is a 400 here, before anything
	// else, and never falls through to the routes without hosts.
	host, err := requestHost(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	escaped := r.URL.EscapedPath()
	if escaped == "" && r.URL.Scheme != "" {
		// The absolute-form "GET http://host HTTP/1.1" (RFC 9112 §3.2.2)
		// asks for "/": an empty path is "/" (RFC 9110 §4.2.3). CONNECT's
		// authority-form has no scheme and stays refused.
		escaped = "/"
	}
	path, err := CanonicalPath(escaped)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if rest, ok := s.forwardAuthPath(path); ok {
		s.forwardAuth(x, r, rt, host, rest, ip, trustedPeer, reqID)
		return
	}
	if s.isAuthPath(path) {
		x.route = "auth_api"
		s.authHandler.ServeHTTP(w, authn.WithClientIP(withPath(r, path), ip.String()))
		return
	}
	if rt.resources != nil && strings.HasPrefix(path, resourceWellKnown) {
		if d, ok := rt.resources[resourceKey{host.Name, path}]; ok {
			s.serveResource(x, r, d)
			return
		}
	}
	idx, ok := rt.router.Match(host.Name, r.Method, path)
	if !ok {
		s.writeError(w, r, problem.ErrNoRoute)
		return
	}
	rh := rt.routes[idx]
	x.route, x.ref = rh.name, rh.upstreamRef
	if rh.proxy == nil {
		// upstream: none: the route answers forward-auth checks only.
		s.writeError(w, r, problem.ErrNoRoute)
		return
	}
	if err := checkUpgrade(r.Header, rh.upgrades); err != nil {
		s.writeError(w, r, err)
		return
	}

	var id *identity.Identity
	if rh.required {
		var src authn.Source
		id, src, err = s.auth.Authenticate(r)
		if err != nil {
			if rh.loginRedirect && wantsLoginPage(r) && sendsToLogin(err) {
				// A browser whose access cookie only expired (or was cut
				// off by a role change) goes through the refresh endpoint,
				// the one path its refresh cookie is sent to, and comes
				// straight back; anyone else signs in.
				page := "/login"
				if s.auth.ShouldRefresh(r) {
					page = "/refresh"
				}
				s.redirectToAuth(w, r, path, page)
				return
			}
			s.writeError(rh.errorWriter(w), r, err)
			return
		}
		x.userID = id.UserID
		if !id.HasAnyRole(rh.roles) {
			s.writeError(w, r, problem.ErrForbidden)
			return
		}
		// A cookie rides along on any request the browser makes, including
		// a WebSocket handshake started by another site's script (CSWSH):
		// with cookie auth the upgrade must come from one of our origins.
		if src == authn.FromCookie && isUpgrade(r) && !authn.SameOrigin(r) {
			s.writeError(w, r, problem.ErrCrossSite)
			return
		}
	}

	// The upstream receives the very path the decision was made on (minus
	// the route's prefix with strip_prefix), decoded here and escaped once
	// when the proxy writes the request.
	upath, err := url.PathUnescape(rh.route.UpstreamPath(path))
	if err != nil {
		s.writeError(w, r, problem.ErrBadPath)
		return
	}
	f := &x.forward
	f.Path = upath
	f.ClientIP = ip
	f.TrustedPeer = trustedPeer
	f.Proto = "http"
	if https {
		f.Proto = "https"
	}
	f.Host = host.Authority
	f.Identity = id
	f.RequestID = reqID
	if id != nil && rt.assertion {
		f.Assertion, err = s.tokens.Assertion(id, rh.name)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	rh.proxy.Serve(w, r, f)
}

// isAuthPath reports whether the canonical path belongs to the auth API,
// which no route can shadow.
func (s *Server) isAuthPath(path string) bool {
	p := s.authPrefix
	if path == "/.well-known/jwks.json" || s.isProviderPath(path) {
		return true
	}
	// Case-insensitive like route matching (and the config rule that no
	// route may sit under the prefix in any case): "/AUTH/x" belongs to
	// the auth API, which answers 404, never to a route.
	return len(path) >= len(p) && strings.EqualFold(path[:len(p)], p) && (len(path) == len(p) || path[len(p)] == '/')
}

// withPath returns r with its URL path replaced by the canonical one, so the
// auth API's mux sees the same path the decision was made on.
func withPath(r *http.Request, path string) *http.Request {
	if r.URL.Path == path && r.URL.RawPath == "" {
		return r
	}
	r2 := new(http.Request)
	*r2 = *r
	u := *r.URL
	u.Path, u.RawPath = path, ""
	r2.URL = &u
	return r2
}

// wantsLoginPage reports whether r is a browser navigation: a GET or HEAD
// that accepts HTML. API clients get a 401 instead.
func wantsLoginPage(r *http.Request) bool {
	return !isUpgrade(r) && isNavigation(r.Method, r.Header)
}

// isNavigation reports whether a request with method and h is a browser
// navigation: a GET or HEAD that accepts HTML and, when the browser says
// (Sec-Fetch-Mode), navigates. A fetch() or XHR that accepts HTML gets
// the 401 it can handle, never a redirect to a login page.
func isNavigation(method string, h http.Header) bool {
	if !strings.EqualFold(method, http.MethodGet) && !strings.EqualFold(method, http.MethodHead) {
		return false
	}
	if m := h.Get("Sec-Fetch-Mode"); m != "" && m != "navigate" {
		return false
	}
	for _, v := range h.Values("Accept") {
		if strings.Contains(v, "text/html") {
			return true
		}
	}
	return false
}

// sendsToLogin reports whether a browser failing with err should see the
// login page: when it has no session, or its session is no longer good.
// Malformed requests and outages are answered as they are.
func sendsToLogin(err error) bool {
	return errors.Is(err, problem.ErrNoCredentials) || errors.Is(err, problem.ErrInvalidToken) ||
		errors.Is(err, problem.ErrTokenRevoked)
}

// redirectToAuth answers 302 to an auth API page (login or refresh) with
// the original path and query as rd, which is accepted there only as a
// same-origin path.
func (s *Server) redirectToAuth(w http.ResponseWriter, r *http.Request, path, page string) {
	rd := path // CanonicalPath returns it escaped
	if r.URL.RawQuery != "" {
		rd += "?" + r.URL.RawQuery
	}
	h := w.Header()
	h.Set("Location", s.authPrefix+page+"?rd="+url.QueryEscape(rd))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusFound)
}

// clientIP is the address the request came from: the TCP peer, or — when
// the peer is a trusted proxy — the nearest address in X-Forwarded-For that
// is not itself a trusted proxy. Addresses a client wrote further left are
// never believed.
func clientIP(remoteAddr string, h http.Header, trusted []netip.Prefix) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	peer := ap.Addr().Unmap()
	if !isTrusted(peer, trusted) {
		return peer, false
	}
	ip := peer
	xff := h.Values("X-Forwarded-For")
	for i := len(xff) - 1; i >= 0; i-- {
		parts := strings.Split(xff[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return ip, true
			}
			ip = a.Unmap()
			if !isTrusted(ip, trusted) {
				return ip, true
			}
		}
	}
	return ip, true
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// requestID returns the id for this request: a trusted proxy's X-Request-Id
// when it sent a sane one, else a new one made of this process's random
// prefix and a counter.
//
// The counter counts every request, also those with an id of their own:
// releaseMemoryWhenIdle watches it.
func (s *Server) requestID(r *http.Request, trustedPeer bool) string {
	n := s.requestSeq.Add(1)
	if trustedPeer {
		if v := r.Header.Get("X-Request-Id"); v != "" && len(v) <= 128 && isToken(v) {
			return v
		}
	}
	buf := make([]byte, 0, len(s.requestPrefix)+13)
	buf = append(buf, s.requestPrefix...)
	buf = strconv.AppendUint(buf, n, 36)
	return string(buf)
}

func isToken(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c <= ' ' || c >= 0x7f || c == '"' || c == ',' || c == ';' || c == '\\' {
			return false
		}
	}
	return true
}

// recorder remembers the status and size of a response for logs and
// metrics. Unwrap lets http.ResponseController reach the connection for
// flushing (server-sent events) and hijacking (WebSocket).
type recorder struct {
	w      http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) reset(w http.ResponseWriter) { *r = recorder{w: w} }

func (r *recorder) Header() http.Header { return r.w.Header() }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 && code >= 200 || code == http.StatusSwitchingProtocols {
		r.status = code
	}
	r.w.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.w.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.w }

// Flush is here as well as through Unwrap because some handlers still
// type-assert http.Flusher.
func (r *recorder) Flush() {
	if f, ok := r.w.(http.Flusher); ok {
		f.Flush()
	}
}
