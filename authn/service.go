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
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Options are what the gateway hands the account service.
type Options struct {
	Logger *slog.Logger
	// ErrorWriter answers a request with the HTTP form of err. The gateway
	// owns the mapping from errors to statuses (gateway/errors.go).
	ErrorWriter func(w http.ResponseWriter, r *http.Request, err error)
	Registerer  prometheus.Registerer // may be nil
	// DataDir holds files that belong with the database: the generated
	// HS256 secret when tokens.secret is empty.
	DataDir string
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

// revocationList is the denylist as the service runs it: Denylist plus its
// background loop and its health.
type revocationList interface {
	Denylist
	Run(ctx context.Context) error
	Ready() bool
}

// Service is the account and token service: users, sessions, access
// tokens, the denylist and the login throttle, and the /auth API over them.
type Service struct {
	cfg      Config
	logger   *slog.Logger
	fail     func(w http.ResponseWriter, r *http.Request, err error)
	db       *DB
	redis    *redis.Client // nil without Redis
	users    *Users
	sessions *Sessions
	tokens   *AccessTokens
	deny     revocationList
	throttle Throttle
	attempts *attemptGate // logins being verified, per throttle key

	storeTimeout time.Duration // database.timeout: bound on one account operation
	bodyTimeout  time.Duration // Options.BodyTimeout

	cookies    cookieNames
	assertions assertionCache
	now        func() time.Time
	rand       io.Reader // CSRF cookie values; tests set it
	secretNote string    // how the HS256 secret was obtained, for the startup log

	web webAPI // the /auth HTTP layer, built once by New (api.go)

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
		fail:    opts.ErrorWriter,
		cookies: newCookieNames(cfg.AuthAPI.CookieName),
		now:     time.Now,
		rand:    rand.Reader,

		storeTimeout: cfg.Database.Timeout.D(),
		bodyTimeout:  opts.BodyTimeout,
	}
	if s.storeTimeout <= 0 {
		s.storeTimeout = defaultStoreTimeout
	}
	if s.bodyTimeout <= 0 {
		s.bodyTimeout = defaultBodyTimeout
	}
	if s.fail == nil {
		s.fail = func(w http.ResponseWriter, _ *http.Request, err error) {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()

	db, err := OpenDB(ctx, cfg.Database.URL)
	if err != nil {
		return nil, err
	}
	s.db = db

	secretFile := filepath.Join(opts.DataDir, "signing.secret")
	tokens, err := NewTokens(cfg.Tokens, secretFile)
	if err != nil {
		return nil, err // already *conf.Problem values with tokens.* paths
	}
	s.tokens = tokens
	generated := tokens.SecretGenerated()
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
		client, err := NewRedisClient(cfg.Redis.URL)
		if err != nil {
			return nil, fmt.Errorf("redis.url: %w", err)
		}
		s.redis = client
		s.deny = NewRedisDenylist(client, cfg.Redis.KeyPrefix, cfg.Redis.OnError, accessTTL, logger)
		if s.throttle, err = NewThrottleRedis(client, cfg.Redis.KeyPrefix, cfg.AuthAPI.LoginLimit); err != nil {
			return nil, fmt.Errorf("auth_api.login_limit: %w", err)
		}
	} else {
		s.deny = NewDBDenylist(db, cfg.Redis.OnError, accessTTL, logger)
		if s.throttle, err = NewThrottleMemory(cfg.AuthAPI.LoginLimit, 0); err != nil {
			return nil, fmt.Errorf("auth_api.login_limit: %w", err)
		}
	}
	limit, _, err := parseLimit(cfg.AuthAPI.LoginLimit)
	if err != nil {
		return nil, fmt.Errorf("auth_api.login_limit: %w", err)
	}
	s.attempts = newAttemptGate(limit)
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
func (s *Service) DB() *DB { return s.db }

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
				return ErrDenylistUnavailable
			}
			return nil
		}},
	}
}

// Describe returns slog attributes naming the stores in use, for the
// startup log. Passwords in URLs are redacted.
func (s *Service) Describe() []any {
	store := "postgres " + redactURL(s.cfg.Database.URL)
	if s.db.Dialect == SQLite {
		store = "sqlite " + s.db.Path
	}
	deny := "database (embedded)"
	if s.redis != nil {
		deny = "redis " + redactURL(s.cfg.Redis.URL) + " (on_error: " + s.cfg.Redis.OnError + ")"
	}
	return []any{"database", store, "denylist", deny, "signing", s.cfg.Tokens.Algorithm + ", " + s.secretNote}
}

// CookieNames are the cookies the gateway owns. The proxy removes them
// from requests (unless a route forwards tokens) and from upstream
// responses.
func (s *Service) CookieNames() []string {
	return []string{s.cookies.access, s.cookies.refresh, s.cookies.csrf}
}

// Prefix is auth_api.prefix.
func (s *Service) Prefix() string { return s.cfg.AuthAPI.Prefix }

// TokenPair is the answer of login and refresh, in the field names of the
// FastAPI original.
type TokenPair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`

	accessExpires  time.Time
	refreshExpires time.Time
}

// Login checks a username and password and opens a session. Failed
// attempts count against the username and the client address; while either
// is throttled even a correct password is refused.
func (s *Service) Login(ctx context.Context, username, password, clientIP string) (*TokenPair, error) {
	userKey, ipKey := LoginThrottleKeys(usernameKey(username), clientIP)
	keys := []string{userKey, ipKey}
	// Check, verify and count one attempt at a time per key slot, so that
	// concurrent guesses cannot all pass Check before a failure is counted.
	release, err := s.attempts.acquire(ctx, keys...)
	if err != nil {
		return nil, err
	}
	defer release()
	retry, err := s.throttle.Check(ctx, keys...)
	if err != nil {
		return nil, err
	}
	if retry > 0 {
		return nil, &ThrottledError{RetryAfter: retry}
	}
	u, err := s.users.Authenticate(ctx, username, password)
	if errors.Is(err, ErrInvalidCredentials) {
		if ferr := s.throttle.Fail(ctx, keys...); ferr != nil {
			s.logger.Warn("recording a failed login failed", "error", ferr)
		}
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	// Only the username's count is reset: resetting the address's would let
	// someone who owns one account clear it between guesses at others.
	if err := s.throttle.Reset(ctx, userKey); err != nil {
		s.logger.Warn("resetting the login throttle failed", "error", err)
	}
	sid, refresh, refreshExp, err := s.sessions.Create(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	return s.issue(u, sid, refresh, refreshExp)
}

// Refresh rotates a refresh token: the presented token dies, a new pair is
// returned with the user's current roles. A token presented a second time
// revokes its whole session, access tokens included (RFC 9700 §4.14.2).
func (s *Service) Refresh(ctx context.Context, refreshToken string) (*TokenPair, error) {
	rot, err := s.sessions.Rotate(ctx, refreshToken)
	var reuse *ReuseError
	if errors.As(err, &reuse) {
		if derr := s.deny.Revoke(ctx, Revocation{SessionID: reuse.SessionID, Expires: s.now().Add(s.tokens.AccessTTL())}); derr != nil {
			return nil, derr
		}
		s.logger.Warn("refresh token reuse: session revoked", "user_id", reuse.UserID, "session", reuse.SessionID)
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	u := rot.User
	if u == nil {
		if u, err = s.users.Get(ctx, rot.UserID); err != nil {
			return nil, err
		}
	}
	if !u.IsActive {
		if _, err := s.sessions.Revoke(ctx, rot.SessionID); err != nil {
			return nil, err
		}
		return nil, ErrUserDisabled
	}
	return s.issue(u, rot.SessionID, rot.RefreshToken, rot.Expires)
}

func (s *Service) issue(u *User, sid, refresh string, refreshExp time.Time) (*TokenPair, error) {
	access, exp, err := s.tokens.Issue(strconv.FormatInt(u.ID, 10), IssueInput{
		SessionID: sid, Username: u.Username, Email: u.Email, Roles: u.Roles,
	})
	if err != nil {
		return nil, err
	}
	return &TokenPair{
		AccessToken:    access,
		RefreshToken:   refresh,
		TokenType:      "bearer",
		ExpiresIn:      int(exp.Sub(s.now()).Round(time.Second) / time.Second),
		accessExpires:  exp,
		refreshExpires: refreshExp,
	}, nil
}

// Logout ends the session of id (or, with only a refresh token, the session
// that token belongs to); with all, every session of the user. The
// denylist is written first: from the moment Logout returns, the session's
// access tokens are rejected on every instance.
func (s *Service) Logout(ctx context.Context, id *Identity, refreshToken string, all bool) error {
	sid, userID := "", ""
	if id != nil {
		sid, userID = id.SessionID, id.UserID
	}
	if refreshToken != "" {
		rsid, ruid, err := s.sessions.Lookup(ctx, refreshToken)
		switch {
		case err == nil:
			if sid != "" && rsid != sid {
				// Two tokens of different sessions: refuse rather than
				// guess which one the client meant.
				return ErrAmbiguousCredentials
			}
			sid, userID = rsid, strconv.FormatInt(ruid, 10)
		case id == nil:
			return err
		}
	}
	if sid == "" {
		return ErrNoCredentials
	}
	now := s.now()
	until := now.Add(s.tokens.AccessTTL())
	// Both stores are written whatever the other answers: a denylist that
	// cannot be written (503, the client retries) must not leave the
	// session's refresh tokens alive too.
	if all {
		uid, err := strconv.ParseInt(userID, 10, 64)
		if err != nil {
			return ErrInvalidToken
		}
		derr := s.deny.Revoke(ctx, Revocation{UserID: userID, NotBefore: cutoffAfter(now), Expires: until})
		_, serr := s.sessions.RevokeUser(ctx, uid)
		return errors.Join(derr, serr)
	}
	derr := s.deny.Revoke(ctx, Revocation{SessionID: sid, Expires: until})
	_, serr := s.sessions.Revoke(ctx, sid)
	return errors.Join(derr, serr)
}

// Me returns the user behind an identity.
func (s *Service) Me(ctx context.Context, id *Identity) (*User, error) {
	uid, err := strconv.ParseInt(id.UserID, 10, 64)
	if err != nil {
		return nil, ErrInvalidToken
	}
	u, err := s.users.Get(ctx, uid)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrInvalidToken
	}
	return u, err
}

// Register creates an account through the public API (subject to
// accounts.registration).
func (s *Service) Register(ctx context.Context, username, email, password string) (*User, error) {
	return s.users.Register(ctx, username, email, password)
}

// AddUser creates an account from the command line, with roles.
func (s *Service) AddUser(ctx context.Context, nu NewUser) (*User, error) {
	return s.users.Create(ctx, nu)
}

// ListUsers lists every account.
func (s *Service) ListUsers(ctx context.Context) ([]User, error) { return s.users.List(ctx) }

// SetActive enables or disables an account. Disabling ends every session
// and rejects the user's access tokens at once.
func (s *Service) SetActive(ctx context.Context, username string, active bool) (*User, error) {
	u, err := s.users.SetActive(ctx, username, active)
	if err != nil || active {
		return u, err
	}
	return u, s.cutOff(ctx, u, true)
}

// SetRoles replaces an account's roles. Access tokens carry roles, so the
// user's current access tokens are cut off; their sessions stay, and the
// next refresh picks the new roles up.
func (s *Service) SetRoles(ctx context.Context, username string, roles []string) (*User, error) {
	u, err := s.users.SetRoles(ctx, username, roles)
	if err != nil {
		return u, err
	}
	return u, s.cutOff(ctx, u, false)
}

// SetPassword changes a password and ends every session of the user.
func (s *Service) SetPassword(ctx context.Context, username, password string) (*User, error) {
	u, err := s.users.SetPassword(ctx, username, password)
	if err != nil {
		return u, err
	}
	return u, s.cutOff(ctx, u, true)
}

// cutOff rejects every access token of u issued until now and, with
// sessions, revokes every refresh token too — the latter even when the
// denylist cannot be written, so that a password change made during a
// Redis outage still ends the old sessions.
func (s *Service) cutOff(ctx context.Context, u *User, sessions bool) error {
	now := s.now()
	err := s.deny.Revoke(ctx, Revocation{UserID: strconv.FormatInt(u.ID, 10), NotBefore: cutoffAfter(now), Expires: now.Add(s.tokens.AccessTTL())})
	if sessions {
		_, serr := s.sessions.RevokeUser(ctx, u.ID)
		err = errors.Join(err, serr)
	}
	return err
}

// cutoffAfter is the not-before of a per-user cut-off made at now: the
// next millisecond boundary. Access tokens carry iat in milliseconds and
// the denylist spares a token whose iat equals the not-before, so with now
// itself a token minted earlier in the same millisecond would survive the
// cut-off. From the next boundary, every token minted in that millisecond
// (before the cut-off or just after: they cannot be told apart) is
// revoked, and one minted a millisecond later is not.
func cutoffAfter(now time.Time) time.Time {
	return now.Truncate(time.Millisecond).Add(time.Millisecond)
}
