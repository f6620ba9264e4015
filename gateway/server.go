package gateway

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authgate/authgate/accounts"
	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/internal/park"
	"github.com/authgate/authgate/provider"
	"github.com/authgate/authgate/tokens"
	"github.com/prometheus/client_golang/prometheus"
)

// Options are what main hands the server.
type Options struct {
	ConfigPath string
	Logger     *slog.Logger // nil logs nothing
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
	provider *provider.Provider   // oauth2.enabled, else nil: routes' oauth_resource names it (resource.go)
	metrics  *metrics

	// Resolved once from cfg for the request path.
	hsts          string // Strict-Transport-Security value; "" = off
	authPrefix    string // auth_api.prefix
	authHandler   http.Handler
	wellKnown     []string // the OAuth2 provider's metadata paths, also the auth API's
	requestPrefix string
	requestSeq    atomic.Uint64
	// releaseChecks counts releaseMemoryWhenIdle's looks at requestSeq, so
	// that a test can wait for quiet periods instead of sleeping through
	// them.
	releaseChecks atomic.Uint64

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
	parking []*park.Listener
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
	logger := cmp.Or(opts.Logger, slog.New(slog.DiscardHandler))
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
		RedirectHosts:  cfg.ForwardAuth.RedirectHosts,
		BodyTimeout:    cfg.Limits.ReadHeaderTimeout.D(),
	})
	if err != nil {
		acc.Close()
		return nil, cfg.located(err)
	}
	s.accounts, s.auth, s.tokens = acc, auth, acc.Tokens()
	s.authHandler = auth.Handler()
	s.authPrefix = cfg.AuthAPI.Prefix
	if cfg.OAuth2.Enabled {
		p, err := newProvider(cfg, acc, auth, logger)
		if err != nil {
			acc.Close()
			return nil, cfg.located(err)
		}
		s.mountProvider(p)
		s.provider = p
	}
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
	s.logListeners(servers)
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

// parkIdle makes l park its idle HTTP/1.1 connections (internal/park); it
// then does the TLS handshakes itself.
func (s *Server) parkIdle(l *listener, tlsConf *tls.Config) {
	after := s.cfg.Limits.ParkIdleAfter.D()
	if !park.Supported || after <= 0 {
		return
	}
	pl := park.New(l.ln, park.Options{
		After:            after,
		TLS:              tlsConf,
		HandshakeTimeout: l.srv.ReadHeaderTimeout,
		Logger:           s.logger,
	})
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
		httpsPort := "" // the https listener is required with TLS (validateTLS)
		if len(out) > 0 {
			_, httpsPort, _ = net.SplitHostPort(out[0].ln.Addr().String())
		}
		if err := add("http", l.HTTP, s.redirectHandler(httpsPort), nil); err != nil {
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

// newRequestPrefix is a random per-process prefix for request ids, so ids
// from several instances never collide in a shared log store.
func newRequestPrefix() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b) + "-"
}
