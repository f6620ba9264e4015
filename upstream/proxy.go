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
// (strip_prefix is the gateway's: Forward.Path is the final path.)
type Route struct {
	Name string
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
	headers  *headerPlan
	writeErr func(http.ResponseWriter, *http.Request, error)
	rp       httputil.ReverseProxy
}

func (u *Upstreams) newProxy(rt http.RoundTripper, route Route) *proxy {
	h := &proxy{route: route, headers: u.headers, writeErr: u.opts.ErrorWriter}
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
	return h
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
	u.Path, u.RawPath = f.Path, ""
	// The query goes through as the client sent it; ReverseProxy would
	// otherwise re-encode one it cannot parse.
	u.RawQuery = in.URL.RawQuery
	u.Opaque, u.User, u.Fragment = "", nil, ""
	h.headers.rewrite(out, in, f, h.route.ForwardToken)
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
