package accounts

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authgate/authgate/denylist"
	"github.com/authgate/authgate/federation"
	"github.com/authgate/authgate/internal/problem"
	"github.com/authgate/authgate/store"
	"github.com/authgate/authgate/tokens"
)

// Sections are the parts of config.yaml the account side reads, with
// their defaults applied and validated by the loader.
type Sections struct {
	Database store.Config
	Redis    denylist.Config
	Tokens   tokens.Config
	Accounts Config
	// LoginLimit and RegisterLimit are auth_api.login_limit and
	// auth_api.register_limit: the auth_api section is authn's, the
	// throttles that enforce them are here.
	LoginLimit, RegisterLimit string
	// AuthPrefix and CookieName are auth_api.prefix and
	// auth_api.cookie_name: the providers' callbacks live under the
	// prefix, their flow cookie is named after the session cookie.
	AuthPrefix, CookieName string
	// IdentityProviders is the identity_providers section.
	IdentityProviders federation.Config
}

// Options are what Open needs besides the config.
type Options struct {
	// Logger receives the warnings of the service and of the token keys
	// and denylist it opens; nil logs nothing.
	Logger *slog.Logger
	// DataDir holds files that belong with the database: the generated
	// HS256 secret when tokens.secret is empty.
	DataDir string
	// Now is the clock of the service, its stores and its tokens; nil is
	// time.Now. The tests of the layers above set it.
	Now func() time.Time
	// HashCost, when not 0, is the bcrypt cost passwords are hashed at
	// instead of accounts.bcrypt_cost, which the config cannot set below
	// 10. The tests of the layers above set bcrypt.MinCost: under -race
	// one hash at cost 10 takes seconds.
	HashCost int
}

// Check is one readiness check the gateway's /readyz runs.
type Check struct {
	Name  string
	Check func(context.Context) error
}

// Service is the account side of authgate: users, sessions, the login and
// registration throttles, and the flows over them (register, login,
// refresh, logout, me, and the administrative changes), on the database,
// the token keys and the denylist it opened. The HTTP API over it is
// authn's.
type Service struct {
	cfg      Sections
	logger   *slog.Logger
	db       *store.DB
	redis    *redis.Client // nil without Redis
	users    *Users
	sessions *Sessions
	tokens   *tokens.AccessTokens
	legacy   *tokens.LegacyVerifier // tokens.legacy; nil: none accepted
	deny     denylist.Mirrored
	throttle Throttle
	attempts *attemptGate // logins being verified, per throttle key
	// registrations counts registrations per client address
	// (auth_api.register_limit) and registering bounds how many are in
	// progress at once per address, as throttle and attempts do for logins.
	registrations Throttle
	registering   *attemptGate

	// The identity providers (nil without identity_providers), the
	// cipher of the provider tokens kept at rest, and per provider
	// whether a refresh must ask it again, and the names by issuer.
	fed      *federation.Federation
	sealer   *federation.TokenCipher
	recheck  map[string]bool
	byIssuer map[string][]string

	now        func() time.Time
	secretNote string // how the HS256 secret was obtained, for the startup log

	// afterPasswordCheck, when set, runs in Login between the password
	// check and the session's creation, and inSessionTx inside the
	// transaction that creates the session, with the account's row held:
	// tests make an admin change land in those windows.
	afterPasswordCheck, inSessionTx func()

	closeOnce sync.Once
}

// Open opens the database (applying migrations), loads the signing keys,
// connects the denylist and builds the account service over them. cfg must
// have its defaults applied (the gateway's loader does that); the sections
// are validated again by the constructors, with the same rules.
//
// The `authgate user` commands open the same service as the gateway, so
// that disabling a user or changing a password revokes their tokens on
// every running instance.
func Open(ctx context.Context, cfg Sections, opts Options) (*Service, error) {
	logger := cmp.Or(opts.Logger, slog.New(slog.DiscardHandler))
	s := &Service{cfg: cfg, logger: logger, now: opts.Now, recheck: map[string]bool{}, byIssuer: map[string][]string{}}
	if s.now == nil {
		s.now = time.Now
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
	s.tokens, err = tokens.New(cfg.Tokens, tokens.Options{SecretFile: secretFile, Logger: logger, Now: opts.Now})
	if err != nil {
		return nil, err // already *conf.Problem values with tokens.* paths
	}
	switch {
	case cfg.Tokens.Algorithm != tokens.AlgHS256:
		s.secretNote = "private key " + cfg.Tokens.PrivateKeyFile
	case cfg.Tokens.Secret != "":
		s.secretNote = "tokens.secret"
	case s.tokens.SecretGenerated():
		s.secretNote = "generated and kept (0600) in " + secretFile
		logger.Warn("no tokens.secret configured: generated a signing secret and kept it", "file", secretFile,
			"note", "every instance must share one secret: set tokens.secret (AUTHGATE_SECRET_KEY) before running more than one")
	default:
		s.secretNote = "read from " + secretFile
	}

	if err := cfg.Accounts.Validate(); err != nil {
		return nil, err
	}
	users := cfg.Accounts
	if opts.HashCost != 0 {
		users.BcryptCost = opts.HashCost
	}
	if s.users, err = newUsers(ctx, db, users); err != nil {
		return nil, err
	}
	if s.sessions, err = NewSessions(db, cfg.Tokens.RefreshTTL.D()); err != nil {
		return nil, err
	}
	s.users.now, s.sessions.now = s.now, s.now
	s.sessions.grace = cfg.Tokens.RefreshReuseGrace.D()
	s.users.logger = logger
	collisions, err := s.users.Collisions(ctx)
	if err != nil {
		return nil, err
	}
	for _, c := range collisions {
		logger.Warn("users rows are one account after normalisation: their logins are refused until they are renamed or merged (authgate user conflicts)",
			"collision", c.Error())
	}

	accessTTL := s.tokens.AccessTTL()
	if cfg.Redis.URL != "" {
		if s.redis, err = denylist.NewRedisClient(cfg.Redis.URL); err != nil {
			return nil, err
		}
		s.deny = denylist.NewRedisDenylist(s.redis, cfg.Redis.KeyPrefix, cfg.Redis.OnError, accessTTL, logger)
	} else {
		s.deny = denylist.NewDBDenylist(db, cfg.Redis.OnError, accessTTL, logger)
	}
	if err := s.newThrottles(); err != nil {
		return nil, err
	}
	if err := s.openLegacy(); err != nil {
		return nil, err
	}
	if err := s.openFederation(cfg); err != nil {
		return nil, err
	}
	ok = true
	return s, nil
}

// newThrottles builds the login and registration throttles, in Redis when
// there is one (every instance counts together), else in memory.
func (s *Service) newThrottles() error {
	newThrottle := func(limit string) (Throttle, error) {
		if s.redis != nil {
			return NewThrottleRedis(s.redis, s.cfg.Redis.KeyPrefix, limit)
		}
		return NewThrottleMemory(limit, 0)
	}
	var err error
	if s.throttle, err = newThrottle(s.cfg.LoginLimit); err != nil {
		return fmt.Errorf("auth_api.login_limit: %w", err)
	}
	if s.registrations, err = newThrottle(s.cfg.RegisterLimit); err != nil {
		return fmt.Errorf("auth_api.register_limit: %w", err)
	}
	// Both parsed above: no error.
	login, _, _ := ParseRate(s.cfg.LoginLimit)
	register, _, _ := ParseRate(s.cfg.RegisterLimit)
	s.attempts = newAttemptGate(login, "")
	s.registering = newAttemptGate(register, registerThrottled)
	return nil
}

// DB is the account database (the gateway keeps the shared ACME cache in
// it).
func (s *Service) DB() *store.DB { return s.db }

// Tokens are the keys that sign and verify access tokens.
func (s *Service) Tokens() *tokens.AccessTokens { return s.tokens }

// Denylist is the revocation list every protected request checks.
func (s *Service) Denylist() denylist.Denylist { return s.deny }

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
