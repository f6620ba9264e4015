package upstream

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httputil"
	"strings"

	"github.com/authgate/authgate/internal/problem"
)

// Route is what a proxy handler needs to know about the route it serves.
type Route struct {
	Name string
	// Prefix is the route's path prefix; with StripPrefix it is removed
	// (on whole segments) from the path sent upstream.
	Prefix      string
	StripPrefix bool
	// ForwardToken passes the Authorization header and the gateway's
	// cookies on to the upstream; by default both are removed.
	ForwardToken bool
}

// proxy is the handler for one route: one httputil.ReverseProxy, built at
// construction, driven only through Rewrite (never Director: ReverseProxy
// removes hop-by-hop headers, including any a client names in its
// Connection header, before Rewrite runs but after Director, so only
// Rewrite's headers survive `Connection: X-Auth-User`).
type proxy struct {
	route    Route
	prefix   string // Prefix without its trailing "/"; "" = nothing to strip
	headers  *headerPlan
	writeErr func(http.ResponseWriter, *http.Request, error)
	rp       httputil.ReverseProxy
}

func (u *Upstreams) newProxy(rt http.RoundTripper, route Route) (*proxy, error) {
	h := &proxy{route: route, headers: u.headers, writeErr: u.opts.ErrorWriter}
	if route.StripPrefix {
		if !strings.HasPrefix(route.Prefix, "/") {
			return nil, fmt.Errorf("route %q: strip_prefix needs a path starting with \"/\", got %q", route.Name, route.Prefix)
		}
		h.prefix = strings.TrimRight(route.Prefix, "/")
	}
	h.rp = httputil.ReverseProxy{
		Rewrite:   h.rewrite,
		Transport: rt,
		// 0: ReverseProxy flushes Server-Sent Events and bodies of unknown
		// length immediately by itself; streamWriter flushes the rest.
		FlushInterval:  0,
		BufferPool:     u.buffers,
		ModifyResponse: h.modifyResponse,
		ErrorHandler:   h.fail,
		ErrorLog:       u.errorLog,
	}
	return h, nil
}

// ServeHTTP proxies r, which must carry a Forward (see WithForward).
func (h *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f, ok := FromContext(r.Context()); !ok || !strings.HasPrefix(f.Path, "/") {
		h.writeErr(w, r, errNoForward)
		return
	}
	sw := getStreamWriter(w)
	defer sw.release()
	h.rp.ServeHTTP(sw, r)
}

// rewrite builds the outbound request from the Forward. It touches pr.Out
// only. The target (scheme, host) is set by the pool when it picks one.
func (h *proxy) rewrite(pr *httputil.ProxyRequest) {
	in, out := pr.In, pr.Out
	f, _ := FromContext(in.Context()) // ServeHTTP checked it
	u := out.URL
	// The path the route decision was made on, escaped once when the
	// request is written (RawPath empty makes EscapedPath recompute it).
	u.Path, u.RawPath = h.upstreamPath(f.Path), ""
	// The query goes through as the client sent it; ReverseProxy would
	// otherwise re-encode one it cannot parse.
	u.RawQuery = in.URL.RawQuery
	u.Opaque, u.User, u.Fragment = "", nil, ""
	h.headers.rewrite(out, in, f, h.route.ForwardToken)
}

// upstreamPath removes the route's prefix, on a whole segment only, and
// keeps a leading "/".
func (h *proxy) upstreamPath(p string) string {
	n := len(h.prefix)
	switch {
	case n == 0 || !strings.HasPrefix(p, h.prefix):
		return p
	case len(p) == n:
		return "/"
	case p[n] == '/':
		return p[n:]
	}
	return p
}

func (h *proxy) modifyResponse(res *http.Response) error {
	h.headers.dropGatewaySetCookies(res.Header)
	// The gateway sets X-Request-Id on its answer itself; an upstream that
	// echoes the id it was sent, as many frameworks do, would make the
	// client see it twice.
	if res.Request == nil {
		return nil
	}
	if f, ok := FromContext(res.Request.Context()); ok && f.RequestID != "" {
		if v := res.Header["X-Request-Id"]; len(v) == 1 && v[0] == f.RequestID {
			delete(res.Header, "X-Request-Id")
		}
	}
	return nil
}

// fail hands a proxy error to the gateway, wrapping anything that is not
// already one of ours in problem.ErrUpstreamUnavailable (a malformed response, a
// refused protocol switch).
func (h *proxy) fail(w http.ResponseWriter, r *http.Request, err error) {
	var be *bodyError
	switch {
	case errors.Is(err, problem.ErrNoHealthyTarget), errors.Is(err, problem.ErrUpstreamTimeout),
		errors.Is(err, problem.ErrUpstreamUnavailable), errors.Is(err, context.Canceled), errors.As(err, &be):
	default:
		err = fmt.Errorf("%w: %w", problem.ErrUpstreamUnavailable, err)
	}
	h.writeErr(w, r, err)
}
