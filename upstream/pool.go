package upstream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/authgate/authgate/internal/problem"
	"github.com/prometheus/client_golang/prometheus"
)

// passiveCooldown keeps a target that failed a connection out of rotation
// when no active check runs; with one, the check's interval is the
// cool-down and a passing check brings the target back.
const passiveCooldown = 10 * time.Second

// pool is a set of interchangeable targets behind one balancer and one
// connection pool. It is the http.RoundTripper of every route that names
// it: it picks the target, counts in-flight requests, ejects targets whose
// connections fail and retries such requests once where that is safe.
type pool struct {
	name      string
	targets   []*Target
	balancer  Balancer
	transport *http.Transport
	inFlight  bool // count in-flight requests: the balancer reads them
	checkPath string
	interval  time.Duration // between active checks
	timeout   time.Duration // of one active check
	cooldown  time.Duration // passive ejection
	now       func() time.Time
	log       *slog.Logger

	metered bool
	obs     [6]prometheus.Observer // by status class; [0] = no response
}

var _ http.RoundTripper = (*pool)(nil)

// newPool builds a pool from a validated config, its defaults applied: a
// named pool checked by Config.Validate, or a route's URL checked by
// ParseTarget.
func newPool(name string, cfg PoolConfig, log *slog.Logger) (*pool, error) {
	b, err := newBalancer(cfg.Balance)
	if err != nil {
		return nil, err
	}
	p := &pool{
		name:     name,
		balancer: b,
		now:      time.Now,
		log:      log.With("pool", name),
		cooldown: passiveCooldown,
	}
	_, p.inFlight = b.(*LeastConn)
	if cfg.HealthCheck.Path != "" {
		p.checkPath = cfg.HealthCheck.Path
		p.interval = cfg.HealthCheck.Interval.D()
		p.timeout = cfg.HealthCheck.Timeout.D()
		p.cooldown = p.interval
	}
	for _, raw := range cfg.Targets {
		u, err := ParseTarget(raw)
		if err != nil {
			return nil, err
		}
		t := &Target{pool: p, url: u, name: u.String(), basePath: strings.TrimSuffix(u.Path, "/")}
		if p.checkPath != "" {
			hu := *u
			hu.Path, hu.RawPath = t.basePath+p.checkPath, ""
			if path, query, ok := strings.Cut(p.checkPath, "?"); ok {
				hu.Path, hu.RawQuery = t.basePath+path, query
			}
			t.healthURL = hu.String()
		}
		p.targets = append(p.targets, t)
	}
	p.transport = newTransport(cfg.Timeout.D(), cfg.DialTimeout.D(), cfg.MaxIdleConnsPerTarget, len(p.targets))
	return p, nil
}

// newTransport returns the pool's connection pool. Go's defaults keep only
// 2 idle connections per host, which under concurrency makes a proxy dial
// a fresh connection for most requests; a pool keeps idle of them per
// target instead.
func newTransport(timeout, dial time.Duration, idle, targets int) *http.Transport {
	d := &net.Dialer{Timeout: dial, KeepAlive: 30 * time.Second}
	return &http.Transport{
		// Proxy stays nil: backend traffic never goes through an
		// HTTP_PROXY taken from the environment.
		DialContext:           d.DialContext,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12}, // nil RootCAs: system roots
		TLSHandshakeTimeout:   dial,
		ForceAttemptHTTP2:     false, // backends speak HTTP/1.1; upgrades (WebSocket) need it
		MaxIdleConns:          idle * targets,
		MaxIdleConnsPerHost:   idle,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
		// The client's Accept-Encoding goes through as sent; the proxy
		// never asks for gzip on its own and unpacks nothing.
		DisableCompression: true,
	}
}

// RoundTrip sends the request, whose path and headers Rewrite has set, to a
// target the balancer picks. A request that failed at the connection level
// is retried once on another target when nothing about it can be lost: it
// has no body, and either the connection was never made (nothing was sent)
// or its method is idempotent (RFC 9110 §9.2.2 allows automatic retries).
func (p *pool) RoundTrip(req *http.Request) (*http.Response, error) {
	var body *bodyReader
	if req.Body != nil {
		body = &bodyReader{ReadCloser: req.Body}
		req.Body = body
	}
	path := req.URL.Path
	t, err := p.balancer.Pick(p.targets)
	if err != nil {
		if req.Body != nil {
			req.Body.Close() // RoundTrip closes the body, even on errors
		}
		return nil, fmt.Errorf("%w in pool %q", err, p.name)
	}
	res, err := p.send(req, t, path)
	if err == nil {
		return res, nil
	}
	retry, err := p.judge(req, t, body, err)
	if !retry {
		return nil, err
	}
	next, perr := p.balancer.Pick(p.targets)
	if perr != nil || next == t {
		return nil, err
	}
	// The first attempt's request is left as it was; the retry gets its
	// own shallow copy with its own URL.
	again := req.WithContext(req.Context())
	u := *req.URL
	again.URL = &u
	res, rerr := p.send(again, next, path)
	if rerr != nil {
		_, rerr = p.judge(again, next, nil, rerr)
		return nil, rerr
	}
	p.log.Debug("upstream request retried on another target", "failed", t.name, "target", next.name)
	return res, nil
}

// send points req at t and sends it.
func (p *pool) send(req *http.Request, t *Target, path string) (*http.Response, error) {
	req.URL.Scheme = t.url.Scheme
	req.URL.Host = t.url.Host
	req.Host = "" // the Host header names the target, as ProxyRequest.SetURL does
	if t.basePath != "" {
		path = t.basePath + path
	}
	req.URL.Path, req.URL.RawPath = path, "" // a retry must not keep the failed target's base path
	if p.inFlight {
		t.inFlight.Add(1)
	}
	var start time.Time
	if p.metered {
		start = p.now()
	}
	res, err := p.transport.RoundTrip(req)
	if p.metered {
		class := 0
		if err == nil {
			if c := res.StatusCode / 100; c >= 1 && c <= 5 {
				class = c
			}
		}
		p.obs[class].Observe(p.now().Sub(start).Seconds())
	}
	if err != nil {
		if p.inFlight {
			t.inFlight.Add(-1)
		}
		return nil, err
	}
	if p.inFlight {
		res.Body = t.trackBody(res.Body)
	}
	return res, nil
}

// judge classifies a failed attempt on t, ejects t when its connection
// failed, and reports whether the request may be retried elsewhere.
func (p *pool) judge(req *http.Request, t *Target, body *bodyReader, err error) (retry bool, _ error) {
	if cerr := req.Context().Err(); cerr != nil {
		// The client went away or the gateway's deadline passed: not the
		// target's fault.
		if cerr == context.DeadlineExceeded {
			return false, fmt.Errorf("%w: %s: %w", problem.ErrUpstreamTimeout, t.name, cerr)
		}
		return false, fmt.Errorf("upstream %s: %w", t.name, cerr)
	}
	if body != nil && body.failed.Load() {
		// Reading the client's body failed (truncated upload, size
		// limit). Ejecting the target would let any client take targets
		// out of rotation.
		return false, &bodyError{err: err}
	}
	var op *net.OpError
	connected := !errors.As(err, &op) || op.Op != "dial"
	var ne net.Error
	if connected && errors.As(err, &ne) && ne.Timeout() {
		// No response headers within the pool's timeout: slow, not dead.
		return false, fmt.Errorf("%w: %s: %w", problem.ErrUpstreamTimeout, t.name, err)
	}
	// Refused, reset, closed before a response, or an answer that is
	// not HTTP: the target cannot serve. (An HTTP 5xx is an answer and
	// never gets here.)
	p.eject(t, err)
	retry = req.Body == nil && (!connected || idempotent(req.Method))
	return retry, fmt.Errorf("%w: %s: %w", problem.ErrUpstreamUnavailable, t.name, err)
}

// idempotent reports whether RFC 9110 §9.2.2 lets a client retry method
// automatically.
func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// bodyReader notes whether reading the client's request body failed, so
// that a failure of the client is not taken for a failure of the target.
type bodyReader struct {
	io.ReadCloser
	failed atomic.Bool
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		b.failed.Store(true)
	}
	return n, err
}

// bodyError is a failure to read the client's request body. It wraps the
// read error (e.g. *http.MaxBytesError) so the gateway can answer it.
type bodyError struct{ err error }

func (e *bodyError) Error() string { return "reading request body: " + e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }
