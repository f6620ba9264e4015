package gateway

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/internal/problem"
	"github.com/authgate/authgate/upstream"
)

// Forward-auth: {prefix}/verify answers an ingress (nginx auth_request,
// Traefik forwardAuth, Caddy forward_auth, Envoy ext_authz) that asks
// "may this request pass, and who is it?" before it proxies the request
// itself. The original request is read from the check, only when the
// check comes from trusted_proxies, canonicalised as a proxied request is
// (ParseHost, url.ParseRequestURI, CanonicalPath: the same 400s), and
// judged by the same route table, tokens and denylist. No database or
// Redis round trip: Authenticate is the proxied request's.

// verifySuffix is the check endpoint under auth_api.prefix.
const verifySuffix = "/verify"

// Why a check's description of the original request is refused. Fixed
// texts: the client's bytes are never echoed back.
var (
	errCheckNone      = fmt.Errorf("%w: send X-Original-URL, or X-Forwarded-Proto, -Host and -Uri, or the original path under the verify path", problem.ErrCheckOriginal)
	errCheckBoth      = fmt.Errorf("%w: X-Original-URL and X-Forwarded-Uri were both sent; an ingress sends one", problem.ErrCheckOriginal)
	errCheckTwice     = fmt.Errorf("%w: a header describing the original request was sent more than once", problem.ErrCheckOriginal)
	errCheckMethod    = fmt.Errorf("%w: X-Original-Method or X-Forwarded-Method must name the original method (one token, and the same in both)", problem.ErrCheckOriginal)
	errCheckScheme    = fmt.Errorf("%w: the original scheme must be http or https", problem.ErrCheckOriginal)
	errCheckTargetURI = fmt.Errorf("%w: the original request-target must be a path, optionally with a query, without a fragment", problem.ErrBadPath)
)

// original is the request an ingress asks about.
type original struct {
	method string
	scheme string // "http" or "https"
	host   Host
	path   string // CanonicalPath's result
	query  string // raw, as the client sent it
	// nginx: described by X-Original-URL. nginx's auth_request passes on
	// only 2xx, 401 and 403, so a browser is sent to the login page with
	// a 401 carrying Location, which the nginx config turns into a 302.
	nginx bool
}

// forwardAuthPath reports whether the canonical path is the check
// endpoint, {prefix}/verify, or under it (Envoy's path_prefix puts the
// original path there); rest is what follows the endpoint.
func (s *Server) forwardAuthPath(path string) (rest string, ok bool) {
	p := s.authPrefix + verifySuffix
	if len(path) < len(p) || !strings.EqualFold(path[:len(p)], p) {
		return "", false
	}
	rest = path[len(p):]
	return rest, rest == "" || rest[0] == '/'
}

// forwardAuth answers a check. Only a trusted proxy's checks are judged;
// anyone else's are refused (403) and logged, whatever they claim.
func (s *Server) forwardAuth(x *exchange, r *http.Request, rt *routing, checkHost Host, rest string, ip netip.Addr, trustedPeer bool, reqID string) {
	w := &x.rec
	x.route, x.ref = "forward_auth", "verify"
	w.Header().Set("Cache-Control", "no-store")
	if !trustedPeer {
		s.logger.Warn("forward-auth check refused: the peer is not in trusted_proxies",
			"peer", ip.String(), "request_id", reqID)
		s.writeError(w, r, problem.ErrCheckUntrusted)
		return
	}
	o, err := readOriginal(r, checkHost, rest)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	idx, ok := rt.router.Match(o.host.Name, o.method, o.path)
	if !ok {
		s.writeError(w, r, problem.ErrCheckNoRoute)
		return
	}
	rh := rt.routes[idx]
	x.route = rh.name
	if !rh.required {
		w.WriteHeader(http.StatusOK)
		return
	}
	id, src, err := s.auth.Authenticate(r)
	if err != nil {
		if rh.loginRedirect && isNavigation(o.method, r.Header) && sendsToLogin(err) {
			s.checkToLogin(w, r, rt, &o)
			return
		}
		s.writeError(w, r, err)
		return
	}
	x.userID = id.UserID
	if !id.HasAnyRole(rh.roles) {
		s.writeError(w, r, problem.ErrForbidden)
		return
	}
	// A WebSocket handshake started by another site's script carries the
	// cookie too (CSWSH); nginx's check keeps Upgrade but not Connection,
	// so Upgrade alone marks one.
	if src == authn.FromCookie && r.Header.Get("Upgrade") != "" &&
		!authn.OriginIs(r.Header.Get("Origin"), o.scheme, o.host.Authority) {
		s.writeError(w, r, problem.ErrCrossSite)
		return
	}
	var assertion string
	if rt.assertion {
		if assertion, err = s.tokens.Assertion(id, rh.name); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	rt.upstreams.SetIdentityHeaders(w.Header(), id, assertion)
	w.WriteHeader(http.StatusOK)
}

// checkToLogin sends a browser navigation that failed its check to the
// login page, with the original URL as rd: with forward_auth.login_url,
// there and absolute (the login page accepts it for redirect_hosts);
// without, to the login page on the original host itself, rd a path.
// Traefik, Caddy and Envoy pass a 302 to the browser; nginx gets a 401
// with Location, which its config turns into the 302.
func (s *Server) checkToLogin(w http.ResponseWriter, r *http.Request, rt *routing, o *original) {
	origin := o.scheme + "://" + o.host.Authority
	rd := o.path
	if o.query != "" {
		rd += "?" + o.query
	}
	var loc string
	if login := rt.cfg.ForwardAuth.LoginURL; login != "" {
		loc = login + "?rd=" + url.QueryEscape(origin+rd)
	} else {
		page := "/login"
		if s.auth.ShouldRefresh(r) {
			page = "/refresh"
		}
		loc = origin + s.authPrefix + page + "?rd=" + url.QueryEscape(rd)
	}
	h := w.Header()
	h.Set("Location", loc)
	if o.nginx {
		h.Set("WWW-Authenticate", `Bearer realm="authgate"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	w.WriteHeader(http.StatusFound)
}

// readOriginal reads the request a check is about, in the first style the
// check uses:
//
//   - X-Original-URL (absolute) and X-Original-Method: nginx, ingress-nginx;
//   - X-Forwarded-Proto, -Host, -Uri and -Method: Traefik, Caddy;
//   - the check itself, its path below the endpoint: Envoy ext_authz with
//     path_prefix, which sends the original method, Host and query.
//
// X-Original-URL together with X-Forwarded-Uri is refused: two ingresses
// (or a client's copy that one of them let through) disagreeing about
// which request is judged.
func readOriginal(r *http.Request, checkHost Host, rest string) (original, error) {
	h := r.Header
	origURL, fwdURI := h["X-Original-Url"], h["X-Forwarded-Uri"]
	switch {
	case len(origURL) > 0 && len(fwdURI) > 0:
		return original{}, errCheckBoth
	case len(origURL) > 1 || len(fwdURI) > 1:
		return original{}, errCheckTwice
	}
	var o original
	var target string
	var err error
	switch {
	case len(origURL) == 1:
		o.nginx = true
		var authority string
		if o.scheme, authority, target, err = splitAbsoluteURL(origURL[0]); err != nil {
			return original{}, err
		}
		if o.host, err = ParseHost(authority); err != nil {
			return original{}, err
		}
	case len(fwdURI) == 1:
		if o.scheme, err = singleScheme(h); err != nil {
			return original{}, err
		}
		v := h["X-Forwarded-Host"]
		if len(v) != 1 {
			return original{}, fmt.Errorf("%w: X-Forwarded-Host must be sent once", problem.ErrBadHost)
		}
		if o.host, err = ParseHost(v[0]); err != nil {
			return original{}, err
		}
		target = fwdURI[0]
	case rest != "":
		// Envoy: the check is the original request, its path below the
		// endpoint; the path was canonicalised with the check's.
		o.scheme = "http"
		if len(h["X-Forwarded-Proto"]) > 0 {
			if o.scheme, err = singleScheme(h); err != nil {
				return original{}, err
			}
		}
		o.method, o.host, o.path, o.query = r.Method, checkHost, rest, r.URL.RawQuery
		if o.host.Name == "" {
			return original{}, errHostEmpty
		}
		return o, nil
	default:
		return original{}, errCheckNone
	}
	if o.host.Name == "" {
		return original{}, errHostEmpty
	}
	if o.method, err = originalMethod(h); err != nil {
		return original{}, err
	}
	if o.path, o.query, err = canonicalTarget(target); err != nil {
		return original{}, err
	}
	return o, nil
}

// splitAbsoluteURL splits "scheme://authority/path?query" without
// interpreting the authority or the path: ParseHost and canonicalTarget
// do that, as for a proxied request.
func splitAbsoluteURL(s string) (scheme, authority, target string, err error) {
	i := strings.Index(s, "://")
	if i < 0 {
		return "", "", "", errCheckScheme
	}
	scheme = strings.ToLower(s[:i])
	if scheme != "http" && scheme != "https" {
		return "", "", "", errCheckScheme
	}
	rest := s[i+3:]
	authority, target = rest, "/"
	if j := strings.IndexAny(rest, "/?#"); j >= 0 {
		authority, target = rest[:j], rest[j:]
		if target[0] == '?' {
			target = "/" + target // RFC 9110 §4.2.3: an empty path is "/"
		}
	}
	return scheme, authority, target, nil
}

// canonicalTarget reads a request-target as net/http reads a request's
// (url.ParseRequestURI) and canonicalises its path as dispatch does.
func canonicalTarget(target string) (path, query string, err error) {
	if target == "" || target[0] != '/' || strings.IndexByte(target, '#') >= 0 {
		return "", "", errCheckTargetURI
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return "", "", errCheckTargetURI
	}
	path, err = CanonicalPath(u.EscapedPath())
	if err != nil {
		return "", "", err
	}
	return path, u.RawQuery, nil
}

func singleScheme(h http.Header) (string, error) {
	v := h["X-Forwarded-Proto"]
	if len(v) != 1 {
		return "", errCheckScheme
	}
	switch s := strings.ToLower(v[0]); s {
	case "http", "https":
		return s, nil
	}
	return "", errCheckScheme
}

// originalMethod is X-Original-Method or X-Forwarded-Method, each sent at
// most once, the same when both are. Never the check's own method: nginx
// and Traefik check with a GET whatever the client sent, and a POST judged
// as a GET would pass a route that lists only GET.
func originalMethod(h http.Header) (string, error) {
	var m string
	for _, k := range []string{"X-Original-Method", "X-Forwarded-Method"} {
		v := h[k]
		switch {
		case len(v) == 0:
			continue
		case len(v) > 1:
			return "", errCheckTwice
		case !upstream.ValidHeaderName(v[0]), m != "" && !strings.EqualFold(m, v[0]):
			return "", errCheckMethod
		}
		m = v[0]
	}
	if m == "" {
		return "", errCheckMethod
	}
	return strings.ToUpper(m), nil
}
