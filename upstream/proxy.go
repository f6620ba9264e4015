package upstream

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"

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

// Proxy is the handler for one route: one httputil.ReverseProxy, built at
// construction, driven only through Rewrite (never Director: ReverseProxy
// removes hop-by-hop headers, including any a client names in its
// Connection header, before Rewrite runs but after Director, so only
// Rewrite's headers survive `Connection: X-Auth-User`).
//
// The routing decision reaches it as a parameter of Serve, not in the
// request's context. Rewrite and ModifyResponse need it, and ReverseProxy
// hands them nothing but the requests; so each request is served by an
// exchange: a copy of the ReverseProxy whose hooks are bound, once, to the
// exchange that carries the Forward. Exchanges are pooled, so this costs
// no allocation — where the context value and the request copy it needed
// cost two.
type Proxy struct {
	route     Route
	headers   *headerPlan
	writeErr  func(http.ResponseWriter, *http.Request, error)
	rp        httputil.ReverseProxy // what every exchange copies
	exchanges sync.Pool             // of *exchange
}

// exchange is one request on its way through a Proxy.
type exchange struct {
	p  *Proxy
	f  *Forward // set for the duration of one Serve
	rp httputil.ReverseProxy
}

func (u *Upstreams) newProxy(rt http.RoundTripper, route Route) *Proxy {
	p := &Proxy{route: route, headers: u.headers, writeErr: u.opts.ErrorWriter}
	p.rp = httputil.ReverseProxy{
		Transport: rt,
		// 0: ReverseProxy flushes Server-Sent Events and bodies of unknown
		// length immediately by itself; streamWriter flushes the rest.
		FlushInterval: 0,
		BufferPool:    u.buffers,
		ErrorHandler:  p.fail,
		ErrorLog:      u.errorLog,
	}
	p.exchanges.New = func() any {
		x := &exchange{p: p, rp: p.rp}
		x.rp.Rewrite, x.rp.ModifyResponse = x.rewrite, x.modifyResponse
		return x
	}
	return p
}

// Serve proxies r as f says: the path, client address, identity and the
// rest of what the gateway decided about it. A nil f, or one whose Path
// is not absolute, is refused (errNoForward) rather than guessed from r.
func (p *Proxy) Serve(w http.ResponseWriter, r *http.Request, f *Forward) {
	if f == nil || !strings.HasPrefix(f.Path, "/") {
		p.writeErr(w, r, errNoForward)
		return
	}
	x := p.exchanges.Get().(*exchange)
	x.f = f
	sw := getStreamWriter(w)
	defer x.release(sw)
	x.rp.ServeHTTP(sw, r)
}

// release returns x and sw to their pools; ReverseProxy is done with both
// once its ServeHTTP has returned (an upgraded connection is copied on the
// hijacked conn, not through them).
func (x *exchange) release(sw *streamWriter) {
	sw.release()
	x.f = nil
	x.p.exchanges.Put(x)
}

// rewrite builds the outbound request from the Forward. It touches pr.Out
// only. The target (scheme, host) is set by the pool when it picks one.
func (x *exchange) rewrite(pr *httputil.ProxyRequest) {
	in, out, f := pr.In, pr.Out, x.f
	u := out.URL
	// The path the route decision was made on, escaped once when the
	// request is written (RawPath empty makes EscapedPath recompute it).
	u.Path, u.RawPath = f.Path, ""
	// The query goes through as the client sent it; ReverseProxy would
	// otherwise re-encode one it cannot parse.
	u.RawQuery = in.URL.RawQuery
	u.Opaque, u.User, u.Fragment = "", nil, ""
	x.p.headers.rewrite(out, in, f, x.p.route.ForwardToken)
}

func (x *exchange) modifyResponse(res *http.Response) error {
	x.p.headers.dropGatewaySetCookies(res.Header)
	// The gateway sets X-Request-Id on its answer itself; an upstream that
	// echoes the id it was sent, as many frameworks do, would make the
	// client see it twice.
	if id := x.f.RequestID; id != "" {
		if v := res.Header["X-Request-Id"]; len(v) == 1 && v[0] == id {
			delete(res.Header, "X-Request-Id")
		}
	}
	return nil
}

// fail hands a proxy error to the gateway, wrapping anything that is not
// already one of ours in problem.ErrUpstreamUnavailable (a malformed response, a
// refused protocol switch).
func (p *Proxy) fail(w http.ResponseWriter, r *http.Request, err error) {
	var be *bodyError
	switch {
	case errors.Is(err, problem.ErrNoHealthyTarget), errors.Is(err, problem.ErrUpstreamTimeout),
		errors.Is(err, problem.ErrUpstreamUnavailable), errors.Is(err, context.Canceled), errors.As(err, &be):
	default:
		err = fmt.Errorf("%w: %w", problem.ErrUpstreamUnavailable, err)
	}
	p.writeErr(w, r, err)
}
