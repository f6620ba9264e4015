package upstream

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/authgate/authgate/internal/conf"
	"github.com/prometheus/client_golang/prometheus"
)

// Options are what the gateway hands over at construction.
type Options struct {
	// ErrorWriter answers a request the proxy could not complete. err
	// wraps one of problem.ErrNoHealthyTarget, problem.ErrUpstreamTimeout or
	// problem.ErrUpstreamUnavailable, or context.Canceled (the client went away),
	// or the error reading the client's body. r may be the outbound
	// request; its context is the inbound one's. Required.
	ErrorWriter func(w http.ResponseWriter, r *http.Request, err error)
	// Registerer receives the upstream metrics; nil: no metrics.
	Registerer prometheus.Registerer
	// Logger logs health transitions and ejections; nil: nothing is logged.
	Logger *slog.Logger
	// GatewayCookies are the cookie names the gateway owns. They are
	// removed from requests (unless a route forwards the token) and an
	// upstream's Set-Cookie for any of them is dropped.
	GatewayCookies []string
}

// Upstreams holds every pool and builds the per-route proxy handlers.
type Upstreams struct {
	opts     Options
	log      *slog.Logger
	errorLog *log.Logger // for ReverseProxy's own messages
	headers  *headerPlan
	buffers  *bufferPool
	metrics  *metrics // nil: no metrics
	pools    map[string]*pool
	running  atomic.Bool

	mu       sync.Mutex
	implicit map[string]*pool // pools of routes that name a URL, by URL
}

// New builds every named pool from cfg, with its defaults applied
// (SetDefaults). It runs the loader's Validate first and fails on what it
// reports: construction knows no rule of its own, so it can refuse nothing
// that `authgate check` accepted.
func New(cfg Config, opts Options) (*Upstreams, error) {
	if opts.ErrorWriter == nil {
		return nil, errors.New("upstream: Options.ErrorWriter is required")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	lg := cmp.Or(opts.Logger, slog.New(slog.DiscardHandler))
	u := &Upstreams{
		opts:     opts,
		log:      lg,
		errorLog: slog.NewLogLogger(lg.Handler(), slog.LevelWarn),
		buffers:  &bufferPool{},
		pools:    make(map[string]*pool, len(cfg.Upstreams)),
		implicit: make(map[string]*pool),
	}
	u.headers = newHeaderPlan(cfg.IdentityHeaders, opts.GatewayCookies)
	names := make([]string, 0, len(cfg.Upstreams))
	for name := range cfg.Upstreams {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		p, err := newPool(name, cfg.Upstreams[name], lg)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", conf.Join("upstreams", name), err)
		}
		u.pools[name] = p
	}
	var err error

	// Metrics only once everything else is known to be usable, so that a
	// failed New registers nothing.
	if u.metrics, err = newMetrics(opts.Registerer); err != nil {
		return nil, fmt.Errorf("upstream metrics: %w", err)
	}
	for _, name := range names {
		if err := u.metrics.attach(u.pools[name]); err != nil {
			return nil, fmt.Errorf("upstream metrics: %w", err)
		}
	}
	return u, nil
}

// Handler returns the proxy for one route. ref is the route's upstream:
// the name of a pool, an absolute http(s) URL (a pool of one target with
// default settings, shared by every route that names the same URL), or
// BuiltinEcho.
func (u *Upstreams) Handler(ref string, route Route) (*Proxy, error) {
	var rt http.RoundTripper
	switch {
	case ref == BuiltinEcho:
		rt = echoTransport{route: route.Name}
	case strings.Contains(ref, "://"):
		p, err := u.implicitPool(ref)
		if err != nil {
			return nil, err
		}
		rt = p
	default:
		p, ok := u.pools[ref]
		if !ok {
			return nil, fmt.Errorf("%q is not defined under upstreams", ref)
		}
		rt = p
	}
	return u.newProxy(rt, route), nil
}

func (u *Upstreams) implicitPool(ref string) (*pool, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if p, ok := u.implicit[ref]; ok {
		return p, nil
	}
	// A route's URL was checked by the loader (ParseTarget); its pool takes
	// the defaults a named pool's absent keys get.
	pc := PoolConfig{Targets: []string{ref}}
	pc.SetDefaults()
	p, err := newPool(ref, pc, u.log)
	if err != nil {
		return nil, err
	}
	if err := u.metrics.attach(p); err != nil {
		return nil, fmt.Errorf("upstream metrics: %w", err)
	}
	u.implicit[ref] = p
	return p, nil
}

// Close retires this Upstreams once a newer one has taken over (after a
// config reload): its targets' health series leave /metrics unless the
// newer one serves the same target, and its idle connections are closed.
// Requests still in flight finish normally.
func (u *Upstreams) Close() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.metrics.detach()
	for _, p := range u.pools {
		p.transport.CloseIdleConnections()
	}
	for _, p := range u.implicit {
		p.transport.CloseIdleConnections()
	}
}

// Run runs the active health checks of every pool that configures one, a
// goroutine per target, until ctx ends; then it waits for them and returns
// nil. Pools built from a route's URL have no active check; passive
// ejection works without Run.
func (u *Upstreams) Run(ctx context.Context) error {
	if !u.running.CompareAndSwap(false, true) {
		return errors.New("upstream: Run is already running")
	}
	defer u.running.Store(false)
	var wg sync.WaitGroup
	for _, p := range u.pools {
		if p.checkPath == "" {
			continue
		}
		for _, t := range p.targets {
			wg.Go(func() { p.watch(ctx, t) })
		}
	}
	<-ctx.Done()
	wg.Wait()
	return nil
}
