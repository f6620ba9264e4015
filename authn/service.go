package authn

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/authgate/authgate/denylist"
	"github.com/authgate/authgate/identity"
	"github.com/authgate/authgate/internal/problem"
	"github.com/authgate/authgate/store"
	"github.com/authgate/authgate/tokens"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Options are what the gateway hands the account service.
type Options struct {
	Logger     *slog.Logger
	Registerer prometheus.Registerer // may be nil
	// DataDir holds files that belong with the database: the generated
	// HS256 secret when tokens.secret is empty.
	DataDir string
	// Now is the clock; nil is time.Now. Tests set it.
	Now func() time.Time
	// BodyTimeout bounds how long a client may take to send the body of
	// an account API request; 0 means 10s. The gateway passes
	// limits.read_header_timeout: one bound on what a slow client may
	// make it wait for before it can answer.
	BodyTimeout time.Duration
}

// Check is one readiness check the gateway's /readyz runs.
type Check struct {
	Name  string
	Check func(context.Context) error
}

// Service is the account and token service: users, sessions, access
// tokens, the denylist and the login throttle, and the /auth API over them.
type Service struct {
	cfg      Config
	logger   *slog.Logger
	db       *store.DB
	redis    *redis.Client // nil without Redis
	users    *Users
	sessions *Sessions
	tokens   *tokens.AccessTokens
	deny     denylist.Mirrored
	throttle Throttle
	attempts *attemptGate // logins being verified, per throttle key
	// registrations counts registrations per client address
	// (auth_api.register_limit) and registering bounds how many are in
	// progress at once per address, as throttle and attempts do for logins.
	registrations Throttle
	registering   *attemptGate

	storeTimeout time.Duration // database.timeout: bound on one account operation
	bodyTimeout  time.Duration // Options.BodyTimeout

	cookies    cookieNames
	now        func() time.Time
	rand       io.Reader // CSRF cookie values; tests set it
	secretNote string    // how the HS256 secret was obtained, for the startup log

	web webAPI // the /auth HTTP layer, built once by New (api.go)

	// afterPasswordCheck, when set, runs in Login between the password
	// check and the session's creation, and inSessionTx inside the
	// transaction that creates the session, with the account's row held:
	// tests make an admin change land in those windows.
	afterPasswordCheck, inSessionTx func()

	closeOnce sync.Once
}

// cookieNames are the gateway's cookies. The access cookie uses the
// __Host- prefix (Secure, Path=/, no Domain: no subdomain can set or
// shadow it). The refresh cookie is scoped to the refresh endpoint, which
// __Host- forbids (it requires Path=/), so it uses __Secure-.
type cookieNames struct {
	access  string // __Host-<name>
	refresh string // __Secure-<name>-refresh
	csrf    string // __Host-<name>-csrf
}

func newCookieNames(name string) cookieNames {
	return cookieNames{
		access:  "__Host-" + name,
		refresh: "__Secure-" + name + "-refresh",
		csrf:    "__Host-" + name + "-csrf",
	}
}

// New opens the database (applying migrations), loads the signing keys and
// connects the denylist. cfg must have its defaults applied (gateway.Load
// does that).
func New(ctx context.Context, cfg Config, opts Options) (*Service, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	s := &Service{
		cfg:     cfg,
		logger:  logger,
		cookies: newCookieNames(cfg.AuthAPI.CookieName),
		now:     opts.Now,
		rand:    rand.Reader,

		storeTimeout: cfg.Database.Timeout.D(),
		bodyTimeout:  opts.BodyTimeout,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.storeTimeout <= 0 {
		s.storeTimeout = defaultStoreTimeout
	}
	if s.bodyTimeout <= 0 {
		s.bodyTimeout = defaultBodyTimeout
	}
	if s.cfg.AuthAPI.RegisterLimit == "" {
		s.cfg.AuthAPI.RegisterLimit = defaultRegisterLimit
	}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()

	db, err := store.Open(ctx, cfg.Database.URL)
	if err != nil {
		return nil, err
	}
	s.db = db

	secretFile := filepath.Join(opts.DataDir, "signing.secret")
	toks, err := tokens.New(cfg.Tokens, tokens.Options{SecretFile: secretFile, Logger: logger, Now: opts.Now})
	if err != nil {
		return nil, err // already *conf.Problem values with tokens.* paths
	}
	s.tokens = toks
	generated := toks.SecretGenerated()
	switch {
	case cfg.Tokens.Algorithm != "HS256":
		s.secretNote = "private key " + cfg.Tokens.PrivateKeyFile
	case cfg.Tokens.Secret != "":
		s.secretNote = "tokens.secret"
	case generated:
		s.secretNote = "generated and kept (0600) in " + secretFile
		logger.Warn("no tokens.secret configured: generated a signing secret and kept it", "file", secretFile,
			"note", "every instance must share one secret: set tokens.secret (AUTHGATE_SECRET_KEY) before running more than one")
	default:
		s.secretNote = "read from " + secretFile
	}

	if s.users, err = NewUsers(ctx, db, cfg.Accounts); err != nil {
		return nil, err
	}
	if s.sessions, err = NewSessions(db, cfg.Tokens.RefreshTTL.D()); err != nil {
		return nil, err
	}
	accessTTL := cfg.Tokens.AccessTTL.D()
	if cfg.Redis.URL != "" {
		client, err := denylist.NewRedisClient(cfg.Redis.URL)
		if err != nil {
			return nil, fmt.Errorf("redis.url: %w", err)
		}
		s.redis = client
		s.deny = denylist.NewRedisDenylist(client, cfg.Redis.KeyPrefix, cfg.Redis.OnError, accessTTL, logger)
		if s.throttle, err = NewThrottleRedis(client, cfg.Redis.KeyPrefix, cfg.AuthAPI.LoginLimit); err != nil {
			return nil, fmt.Errorf("auth_api.login_limit: %w", err)
		}
		if s.registrations, err = NewThrottleRedis(client, cfg.Redis.KeyPrefix, s.cfg.AuthAPI.RegisterLimit); err != nil {
			return nil, fmt.Errorf("auth_api.register_limit: %w", err)
		}
	} else {
		s.deny = denylist.NewDBDenylist(db, cfg.Redis.OnError, accessTTL, logger)
		if s.throttle, err = NewThrottleMemory(cfg.AuthAPI.LoginLimit, 0); err != nil {
			return nil, fmt.Errorf("auth_api.login_limit: %w", err)
		}
		if s.registrations, err = NewThrottleMemory(s.cfg.AuthAPI.RegisterLimit, 0); err != nil {
			return nil, fmt.Errorf("auth_api.register_limit: %w", err)
		}
	}
	limit, _, err := parseLimit(cfg.AuthAPI.LoginLimit)
	if err != nil {
		return nil, fmt.Errorf("auth_api.login_limit: %w", err)
	}
	s.attempts = newAttemptGate(limit, "")
	regLimit, _, err := ParseRate(s.cfg.AuthAPI.RegisterLimit)
	if err != nil {
		return nil, fmt.Errorf("auth_api.register_limit: %w", err)
	}
	s.registering = newAttemptGate(regLimit, registerThrottled)
	if err := s.initWeb(); err != nil {
		return nil, err
	}
	ok = true
	return s, nil
}

// NewAdmin is New for the command line: the same stores and denylist, so
// that disabling a user or changing a password revokes their tokens on
// every running instance.
func NewAdmin(ctx context.Context, cfg Config, opts Options) (*Service, error) {
	return New(ctx, cfg, opts)
}

// DB is the account database (the gateway keeps the shared ACME cache in
// it).
func (s *Service) DB() *store.DB { return s.db }

// Run keeps the denylist mirror current, refreshes JWKS verify keys and
// prunes expired sessions, until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := s.deny.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			s.logger.Error("denylist stopped", "error", err)
		}
	})
	wg.Go(func() {
		if err := s.tokens.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			s.logger.Error("verify-key refresh stopped", "error", err)
		}
	})
	wg.Go(func() { s.pruneLoop(ctx) })
	wg.Wait()
	return ctx.Err()
}

func (s *Service) pruneLoop(ctx context.Context) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.sessions.Prune(ctx, s.now()); err != nil {
				s.logger.Warn("pruning expired sessions failed", "error", err)
			}
		}
	}
}

// fail answers r with the problem document for err (internal/problem) and
// logs an unexpected one.
func (s *Service) fail(w http.ResponseWriter, r *http.Request, err error) {
	problem.WriteLogged(w, r, err, s.logger)
}

// Close releases the database and Redis connections.
func (s *Service) Close() error {
	s.closeOnce.Do(func() {
		if s.redis != nil {
			s.redis.Close()
		}
		if s.db != nil {
			s.db.Close()
		}
	})
	return nil
}

// ReadinessChecks are the dependencies /readyz reports on.
func (s *Service) ReadinessChecks() []Check {
	return []Check{
		{Name: "database", Check: func(ctx context.Context) error { return s.db.PingContext(ctx) }},
		{Name: "denylist", Check: func(context.Context) error {
			if !s.deny.Ready() {
				return problem.ErrDenylistUnavailable
			}
			return nil
		}},
	}
}

// Describe returns slog attributes naming the stores in use, for the
// startup log. Passwords in URLs are redacted.
func (s *Service) Describe() []any {
	db := "postgres " + store.RedactURL(s.cfg.Database.URL)
	if s.db.Dialect == store.SQLite {
		db = "sqlite " + s.db.Path
	}
	deny := "database (embedded)"
	if s.redis != nil {
		deny = "redis " + store.RedactURL(s.cfg.Redis.URL) + " (on_error: " + s.cfg.Redis.OnError + ")"
	}
	return []any{"database", db, "denylist", deny, "signing", s.cfg.Tokens.Algorithm + ", " + s.secretNote}
}

// CookieNames are the cookies the gateway owns. The proxy removes them
// from requests (unless a route forwards tokens) and from upstream
// responses.
func (s *Service) CookieNames() []string {
	return []string{s.cookies.access, s.cookies.refresh, s.cookies.csrf}
}

// Assertion returns a signed identity assertion of id for the route
// audience (tokens.AccessTokens.Assertion).
func (s *Service) Assertion(id *identity.Identity, audience string) (string, error) {
	return s.tokens.Assertion(id, audience)
}

// Prefix is auth_api.prefix.
func (s *Service) Prefix() string { return s.cfg.AuthAPI.Prefix }
