package gateway

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authgate/authgate/accounts"
	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/tokens"
	"github.com/prometheus/client_golang/prometheus"
)

// Options are what main hands the server.
type Options struct {
	ConfigPath string
	Logger     *slog.Logger
	Version    string
}

// Server is one running authgate: its listeners, the account service, and
// the live routing state that a reload swaps.
type Server struct {
	configPath string
	logger     *slog.Logger
	version    string

	// cfg is the configuration the server started with. Listeners, TLS,
	// database, Redis and tokens are fixed for the life of the process;
	// a reload changes routes, pools, identity headers and trusted proxies.
	cfg      *Config
	certs    *certSource
	accounts *accounts.Service    // users, sessions, the denylist and the stores under them
	auth     *authn.Service       // the /auth API and the authentication of protected requests
	tokens   *tokens.AccessTokens // signs the identity assertions
	metrics  *metrics

	// Resolved once from cfg for the request path.
	hsts          string // Strict-Transport-Security value; "" = off
	authPrefix    string // auth_api.prefix
	authHandler   http.Handler
	requestPrefix string
	requestSeq    atomic.Uint64

	routing   atomic.Pointer[routing]
	readiness []readinessCheck
	draining  atomic.Bool
	accessLog bool
	access    *accessLogger

	// reloadMu serialises reloads; the request path never takes it.
	reloadMu sync.Mutex
	// ready is closed once every listener is bound.
	ready chan struct{}
	// addrs are the bound listener addresses by name (https, http, ops),
	// set before ready closes.
	addrs map[string]net.Addr
	// parking are the listeners that park idle connections, set before
	// any listener serves.
	parking []*parkingListener
}

// Ready is closed once the server's listeners are bound and serving.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addr returns the bound address of the named listener ("https", "http",
// "ops"), or nil when it is disabled or not yet bound.
func (s *Server) Addr(name string) net.Addr {
	select {
	case <-s.ready:
		return s.addrs[name]
	default:
		return nil
	}
}

// New loads the config and builds everything the server needs: database,
// certificates, account service, routes and pools. Every mistake surfaces
// here, before a listener opens.
func New(ctx context.Context, opts Options) (*Server, error) {
	cfg, err := Load(opts.ConfigPath)
	if err != nil {
		return nil, err
	}
	return NewFromConfig(ctx, cfg, opts)
}

// NewFromConfig is New for a config already loaded with Load.
func NewFromConfig(ctx context.Context, cfg *Config, opts Options) (*Server, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	s := &Server{
		configPath: opts.ConfigPath,
		logger:     logger,
		version:    opts.Version,
		cfg:        cfg,
		metrics:    newMetrics(),
		accessLog:  *cfg.Log.Access,
		access:     newAccessLogger(logger),
		ready:      make(chan struct{}),
		addrs:      map[string]net.Addr{},
	}
	acc, err := OpenAccounts(ctx, cfg, logger)
	if err != nil {
		return nil, cfg.located(err)
	}
	auth, err := authn.New(cfg.AuthAPI, acc, authn.Options{
		Logger:         logger,
		RequestTimeout: cfg.Database.Timeout.D(),
		BodyTimeout:    cfg.Limits.ReadHeaderTimeout.D(),
	})
	if err != nil {
		acc.Close()
		return nil, cfg.located(err)
	}
	s.accounts, s.auth, s.tokens = acc, auth, acc.Tokens()
	s.authHandler = auth.Handler()
	s.authPrefix = cfg.AuthAPI.Prefix
	if cfg.TLS.HSTS != nil {
		s.hsts = *cfg.TLS.HSTS
	}
	s.requestPrefix = newRequestPrefix()
	certs, err := newCertSource(cfg, acc.DB())
	if err != nil {
		acc.Close()
		return nil, cfg.located(err)
	}
	s.certs = certs
	rt, err := s.newRouting(cfg)
	if err != nil {
		acc.Close()
		return nil, cfg.located(err)
	}
	s.routing.Store(rt)
	s.metrics.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "authgate_parked_connections",
		Help: "Idle HTTP/1.1 keep-alive connections parked without a goroutine or buffers of the HTTP server (limits.park_idle_after).",
	}, func() float64 {
		n := 0
		for _, pl := range s.parking {
			n += pl.Parked()
		}
		return float64(n)
	}))
	for _, c := range acc.ReadinessChecks() {
		s.readiness = append(s.readiness, readinessCheck{name: c.Name, check: c.Check})
	}
	return s, nil
}

// Run opens the listeners and serves until ctx is cancelled, then marks
// the instance not ready (/readyz 503) and, after limits.shutdown_delay,
// stops accepting, lets in-flight requests finish (up to
// limits.shutdown_timeout) and returns nil. The ops listener serves at
// once; the public ones once the instance is ready (see awaitReady). A
// value on reload re-reads the config file.
func (s *Server) Run(ctx context.Context, reload <-chan struct{}) error {
	defer s.accounts.Close()
	s.logStartup()

	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	if s.access.fast != nil {
		// Log lines are written by a flusher while the server runs
		// (logwriter.go); it writes what is left once bg ends.
		wg.Go(func() { s.access.fast.out.run(bg) })
	}
	wg.Go(func() {
		if err := s.accounts.Run(bg); err != nil && !errors.Is(err, context.Canceled) {
			s.logger.Error("account service stopped", "error", err)
		}
	})
	rt := s.routing.Load()
	rt.start(bg, &wg)
	if d := s.cfg.Runtime.ReleaseMemoryAfter.D(); d > 0 {
		wg.Go(func() { s.releaseMemoryWhenIdle(bg, d) })
	}

	servers, err := s.listen()
	if err != nil {
		stopBG()
		wg.Wait()
		return err
	}
	errc := make(chan error, len(servers))
	for _, ls := range servers {
		s.addrs[ls.name] = ls.ln.Addr()
	}
	// The ops listener serves at once, so that /healthz and /readyz
	// answer while the public listeners wait for readiness.
	for _, ls := range servers {
		if ls.name == "ops" {
			go func() { errc <- ls.serve() }()
		}
	}
	s.awaitReady(ctx)
	for _, ls := range servers {
		if ls.name != "ops" {
			go func() { errc <- ls.serve() }()
		}
	}
	close(s.ready)

	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-reload:
			if err := s.Reload(bg, &wg); err != nil {
				s.logger.Error("reload failed; the previous configuration keeps serving", "error", err)
			}
		case err := <-errc:
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				runErr = err
				break loop
			}
		}
	}

	s.draining.Store(true)
	if d := s.cfg.Limits.ShutdownDelay.D(); d > 0 && runErr == nil {
		// /readyz says 503 from now on while every listener still serves,
		// so that load balancers stop sending before the ports close.
		s.logger.Info("shutting down: /readyz answers 503; still serving until load balancers notice", "delay", d.String())
		time.Sleep(d)
	}
	s.logger.Info("shutting down: draining in-flight requests", "timeout", s.cfg.Limits.ShutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.Limits.ShutdownTimeout.D())
	defer cancel()
	var swg sync.WaitGroup
	for _, ls := range servers {
		swg.Go(func() {
			if err := ls.srv.Shutdown(shutdownCtx); err != nil {
				s.logger.Warn("listener did not drain in time", "listener", ls.name, "error", err)
				ls.srv.Close()
			}
		})
	}
	swg.Wait()
	stopBG()
	wg.Wait()
	s.logger.Info("stopped")
	return runErr
}

// startupGrace bounds how long the public listeners wait at start for the
// instance to become ready.
const startupGrace = 10 * time.Second

// awaitReady returns once every readiness check passes — above all, once
// the denylist mirror has loaded — or after startupGrace, or when ctx
// ends. Until then the public listeners are bound but not serving, so
// connections wait in the backlog rather than meet a gateway that, failing
// closed, answers 503 to every protected request while its mirror loads.
// A dependency still down after the grace is the ordinary fail-closed
// case, and /readyz, served meanwhile, says which.
func (s *Server) awaitReady(ctx context.Context) {
	grace := time.NewTimer(startupGrace)
	defer grace.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		failing := s.failingChecks(ctx)
		if len(failing) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-grace.C:
			s.logger.Warn("not ready after "+startupGrace.String()+"; serving anyway, protected routes fail closed until ready",
				"failing", failing)
			return
		case <-tick.C:
		}
	}
}

// failingChecks runs the readiness checks and names those that fail.
func (s *Server) failingChecks(ctx context.Context) []string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var failing []string
	for _, c := range s.readiness {
		if err := c.check(ctx); err != nil {
			failing = append(failing, c.name+": "+err.Error())
		}
	}
	return failing
}

// listener is one of the gateway's http.Servers with its bound socket.
type listener struct {
	name string
	srv  *http.Server
	ln   net.Listener
	tls  bool // ServeTLS: the server does the TLS handshakes
}

func (l *listener) serve() error {
	if l.tls {
		return l.srv.ServeTLS(l.ln, "", "")
	}
	return l.srv.Serve(l.ln)
}

// parkIdle makes l park its idle HTTP/1.1 connections (park.go); it then
// does the TLS handshakes itself.
func (s *Server) parkIdle(l *listener, tlsConf *tls.Config) {
	after := s.cfg.Limits.ParkIdleAfter.D()
	if !parkingSupported || after <= 0 {
		return
	}
	pl := newParkingListener(l.ln, tlsConf, l.srv.ReadHeaderTimeout, after, s.logger)
	l.ln, l.tls = pl, false
	l.srv.ConnState = pl.ConnState
	s.parking = append(s.parking, pl)
}

// listen binds every configured listener before any starts serving, so a
// port in use fails the start instead of leaving a half-up gateway.
func (s *Server) listen() ([]*listener, error) {
	var out []*listener
	add := func(name, addr string, h http.Handler, tlsConf *tls.Config) error {
		if addr == "" {
			return nil
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("listen.%s: %w", name, err)
		}
		srv := s.newHTTPServer(h, tlsConf)
		l := &listener{name: name, srv: srv, ln: ln, tls: tlsConf != nil}
		if name == "https" || name == "http" && tlsConf == nil && s.certs.mode == tlsOff {
			// The listeners that serve routes; the redirecting http
			// listener and the ops one keep few connections.
			s.parkIdle(l, tlsConf)
		}
		out = append(out, l)
		return nil
	}
	closeAll := func() {
		for _, l := range out {
			l.ln.Close()
		}
	}
	l := s.cfg.Listen
	if s.certs.mode == tlsOff {
		if err := add("http", l.HTTP, s.publicHandler(false), nil); err != nil {
			closeAll()
			return nil, err
		}
	} else {
		if err := add("https", l.HTTPS, s.publicHandler(true), s.certs.config); err != nil {
			closeAll()
			return nil, err
		}
		if err := add("http", l.HTTP, s.redirectHandler(), nil); err != nil {
			closeAll()
			return nil, err
		}
	}
	if err := add("ops", l.Ops, s.opsHandler(), nil); err != nil {
		closeAll()
		return nil, err
	}
	return out, nil
}

func (s *Server) newHTTPServer(h http.Handler, tlsConf *tls.Config) *http.Server {
	srv := &http.Server{
		Handler:           h,
		TLSConfig:         tlsConf,
		ReadHeaderTimeout: s.cfg.Limits.ReadHeaderTimeout.D(),
		IdleTimeout:       s.cfg.Limits.IdleTimeout.D(),
		MaxHeaderBytes:    s.cfg.Limits.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelDebug),
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams:          s.cfg.Limits.MaxConcurrentStreams,
			MaxDecoderHeaderTableSize:     4096,
			MaxEncoderHeaderTableSize:     4096,
			MaxReadFrameSize:              1 << 20,
			MaxReceiveBufferPerConnection: 1 << 20,
			MaxReceiveBufferPerStream:     1 << 20,
		},
	}
	if tlsConf != nil {
		srv.Protocols = new(http.Protocols)
		srv.Protocols.SetHTTP1(true)
		srv.Protocols.SetHTTP2(true)
	}
	return srv
}

// Reload re-reads the config file. A valid config swaps routes, pools,
// identity headers and trusted proxies atomically: requests already in
// flight finish on the old routing, new ones take the new. An invalid config
// is reported and changes nothing.
func (s *Server) Reload(bg context.Context, wg *sync.WaitGroup) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	cfg, err := Load(s.configPath)
	if err != nil {
		return err
	}
	for _, key := range restartOnlyChanges(s.cfg, cfg) {
		s.logger.Warn("config change needs a restart to take effect; keeping the running value", "key", key)
	}
	rt, err := s.newRouting(cfg)
	if err != nil {
		return cfg.located(err)
	}
	rt.start(bg, wg)
	old := s.routing.Swap(rt)
	old.stop()
	s.logger.Info("configuration reloaded", "routes", len(cfg.Routes))
	logWarnings(s.logger, cfg)
	return nil
}

// newRequestPrefix is a random per-process prefix for request ids, so ids
// from several instances never collide in a shared log store.
func newRequestPrefix() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b) + "-"
}

// logStartup says what listens where, which stores are in use and which
// routes are served — the first thing an operator looks for.
func (s *Server) logStartup() {
	l := s.cfg.Listen
	s.logger.Info("authgate starting", "version", s.version, "config", s.configPath)
	listen := []any{"tls", s.certs.mode}
	if s.certs.mode == tlsOff {
		listen = append(listen, "http", l.HTTP+" (serves routes, no TLS)")
	} else {
		listen = append(listen, "https", l.HTTPS, "http", l.HTTP+" (ACME HTTP-01 and redirect to https)")
	}
	listen = append(listen, "ops", l.Ops+" (/healthz /readyz /metrics)")
	if s.certs.selfSignedFile != "" {
		listen = append(listen, "certificate", s.certs.selfSignedFile)
	}
	if s.certs.acme != nil {
		listen = append(listen, "acme_hosts", s.certs.hosts)
	}
	s.logger.Info("listeners", listen...)
	s.logger.Info("stores", s.accounts.Describe()...)
	for i, r := range s.cfg.Routes {
		auth := r.Auth
		if len(r.Roles) > 0 {
			auth += " roles=" + strings.Join(r.Roles, ",")
		}
		s.logger.Info("route", "index", i, "name", r.Name, "hosts", r.Hosts, "path", r.Path,
			"methods", r.Methods, "auth", auth, "upstream", r.Upstream)
		if opensTunnel(r.Upgrades) {
			s.logger.Warn("route lets clients switch to a protocol authgate cannot see into", "name", r.Name, "upgrades", r.Upgrades)
		}
	}
	logWarnings(s.logger, s.cfg)
}
