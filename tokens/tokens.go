package tokens

import (
	"cmp"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authgate/authgate/identity"
	"github.com/authgate/authgate/internal/problem"
	"github.com/golang-jwt/jwt/v5"
)

const (
	// typAccessToken is the JWT "typ" of access tokens (RFC 9068 §2.1). It
	// keeps other JWTs signed by the same key, such as identity assertions,
	// from being accepted as access tokens (RFC 8725 §3.11).
	typAccessToken = "at+jwt"
	// typAssertion is the "typ" of the identity assertions sent upstream.
	typAssertion = "JWT"

	// maxTokenBytes bounds what Verify will look at. Our tokens are well
	// under 2 KiB; anything longer is rejected before any decoding.
	maxTokenBytes = 8 << 10

	// clockSkew is the leeway for exp, nbf and iat between instances whose
	// clocks differ slightly. iat and nbf are whole seconds, so without it a
	// token issued by an instance a few milliseconds ahead could be "from
	// the future" for up to a second.
	clockSkew = 5 * time.Second

	maxAccessTTL    = 24 * time.Hour
	maxAssertionTTL = 60 * time.Second

	// defaultVerifyCacheSize bounds the verified-token cache.
	defaultVerifyCacheSize = 100_000
)

// Prebuilt so that the cheapest rejections do not allocate.
var (
	errTokenTooLong   = fmt.Errorf("%w: longer than %d bytes", problem.ErrInvalidToken, maxTokenBytes)
	errTokenMalformed = fmt.Errorf("%w: not a compact JWS of three base64url segments", problem.ErrInvalidToken)
)

// Claims is the claim set of an access token (RFC 9068 §2.2) and of an
// identity assertion.
type Claims struct {
	jwt.RegisteredClaims
	// IssuedAtMs shadows RegisteredClaims.IssuedAt (encoding/json takes the
	// shallower of two fields named "iat"): iat is written with millisecond
	// precision, which NumericDate allows (RFC 7519 §2), so a per-user
	// revocation cut-off tells a token issued just before a logout
	// everywhere from one issued just after it in the same second.
	IssuedAtMs *preciseTime `json:"iat,omitempty"`
	SessionID  string       `json:"sid"`
	Username   string       `json:"username"`
	Email      string       `json:"email"`
	Roles      []string     `json:"roles"`
	// ClientID and Scope are set on the tokens the OAuth2 provider issues
	// (RFC 9068 §2.2): the client they were issued to, and the scopes
	// granted, space-separated. Authgate's own sign-ins have neither.
	ClientID string `json:"client_id,omitempty"`
	Scope    string `json:"scope,omitempty"`
}

// IssueInput is what an access token says about its holder besides the
// subject.
type IssueInput struct {
	SessionID string
	Username  string
	Email     string
	Roles     []string
	ClientID  string // the OAuth2 client the token is issued to; "" for authgate's own
	Scope     string // the granted scopes, space-separated (OAuth2 tokens only)
}

// AccessTokens issues and verifies access tokens, signs identity assertions
// and publishes the verification keys. It is safe for concurrent use.
type AccessTokens struct {
	issuer   string
	audience string
	alg      string
	method   jwt.SigningMethod
	signKey  any    // []byte for HS256, else a crypto.Signer
	kid      string // kid of signKey, set on every token we sign
	ttl      time.Duration
	parser   *jwt.Parser

	static []namedKey // the signing key first, then verify_keys files
	remote []*remoteKeys
	keys   atomic.Pointer[keySet] // what Verify looks kids up in; replaced on JWKS refresh
	cache  *verifyCache

	secretGenerated bool
	assertions      assertionCache

	// Set by tests before the keys are loaded; see newTokens.
	now          func() time.Time
	rand         io.Reader
	client       *http.Client
	log          *slog.Logger
	refreshEvery time.Duration
	cacheSize    int // 0 disables the verified-token cache

	refreshMu sync.Mutex // one JWKS refresh at a time
}

// Options are what New needs besides the config.
type Options struct {
	// SecretFile keeps the HS256 secret generated when tokens.secret is
	// empty (gateway: signing.secret beside the database). Empty: a secret
	// must be configured.
	SecretFile string
	// Logger receives the warnings of the JWKS refresh; nil logs nothing.
	Logger *slog.Logger
	// Now is the clock; nil is time.Now. The tests of the layers above set
	// it.
	Now func() time.Time
}

// New validates cfg (SetDefaults applied: the same Validate the loader
// runs) and loads the keys.
//
// With HS256 and no tokens.secret, the secret is read from
// opts.SecretFile, or generated there (0600, directory 0700) when the file
// does not exist yet; SecretGenerated reports which, so that the caller
// can log it. verify_keys URLs are fetched before New returns; Run keeps
// them fresh.
//
// Problems are conf.Problem values with paths under "tokens".
func New(cfg Config, opts Options) (*AccessTokens, error) {
	return newTokens(cfg, opts, nil)
}

// newTokens is New with a hook that tests use to set the HTTP client or
// the cache size before anything is loaded.
func newTokens(cfg Config, opts Options, setup func(*AccessTokens)) (*AccessTokens, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logger := cmp.Or(opts.Logger, slog.New(slog.DiscardHandler))
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	t := &AccessTokens{
		issuer:       cfg.Issuer,
		audience:     cfg.Audience,
		alg:          cfg.Algorithm,
		method:       signingMethod(cfg.Algorithm),
		ttl:          cfg.AccessTTL.D(),
		now:          now,
		rand:         rand.Reader,
		client:       &http.Client{Timeout: 10 * time.Second, CheckRedirect: httpsOnlyRedirect},
		log:          logger,
		refreshEvery: 5 * time.Minute,
		cacheSize:    defaultVerifyCacheSize,
	}
	if setup != nil {
		setup(t)
	}
	if err := t.load(cfg, opts.SecretFile); err != nil {
		return nil, err
	}
	t.cache = newVerifyCache(t.cacheSize)
	t.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{t.alg}), // exactly one algorithm: RFC 8725 §3.1
		jwt.WithIssuer(t.issuer),
		jwt.WithAudience(t.audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(), // rejects iat in the future; presence is checked in verify
		jwt.WithStrictDecoding(),
		jwt.WithLeeway(clockSkew),
		jwt.WithTimeFunc(func() time.Time { return t.now() }),
	)
	return t, nil
}

// SecretGenerated reports whether New generated a new HS256 secret in
// the secret file (so the caller can log where it is kept).
func (t *AccessTokens) SecretGenerated() bool { return t.secretGenerated }

// AccessTTL is how long an issued access token is valid.
func (t *AccessTokens) AccessTTL() time.Duration { return t.ttl }

// Algorithm is the one algorithm tokens are signed and accepted with.
func (t *AccessTokens) Algorithm() string { return t.alg }

// JWKS is the JSON Web Key Set ({"keys":[…]}) of the public keys that
// verify our tokens and assertions: the signing key's and those of
// verify_keys. For HS256 the list is empty: a secret is never published.
// The slice is shared; callers must not modify it.
func (t *AccessTokens) JWKS() []byte { return t.keys.Load().jwks }

// Issue signs an access token for subject sub (the user id). It carries a
// random jti, iat and nbf of now and exp of now+access_ttl, which it also
// returns.
func (t *AccessTokens) Issue(sub string, in IssueInput) (string, time.Time, error) {
	if sub == "" || in.SessionID == "" {
		return "", time.Time{}, errors.New("issue access token: subject and session id are required")
	}
	// exp and nbf are whole seconds; iat keeps its milliseconds (sign), so
	// that a token issued just after a per-user cut-off in the same second
	// (a role change, then the refresh that picks the new role up) is not
	// taken for one issued before it.
	now := t.now()
	exp := now.Truncate(time.Second).Add(t.ttl)
	tok, err := t.sign(typAccessToken, sub, t.audience, now, exp, in)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("issue access token: %w", err)
	}
	return tok, exp, nil
}

// SignAssertion signs a short-lived JWT about id for the upstream of a
// route (identity_headers.assertion); audience is the route name. Its typ
// is "JWT", not "at+jwt", and its audience is not ours, so it can never be
// replayed to the gateway as an access token.
func (t *AccessTokens) SignAssertion(id *identity.Identity, audience string, ttl time.Duration) (string, error) {
	switch {
	case id == nil || id.UserID == "":
		return "", errors.New("sign assertion: identity without a user id")
	case audience == "":
		return "", errors.New("sign assertion: empty audience")
	case audience == t.audience:
		return "", fmt.Errorf("sign assertion: audience %q is the access-token audience", audience)
	case ttl <= 0 || ttl > maxAssertionTTL:
		return "", fmt.Errorf("sign assertion: lifetime %s is outside (0, %s]", ttl, maxAssertionTTL)
	}
	now := t.now().Truncate(time.Second)
	tok, err := t.sign(typAssertion, id.UserID, audience, now, now.Add(ttl), IssueInput{
		SessionID: id.SessionID, Username: id.Username, Email: id.Email, Roles: id.Roles,
	})
	if err != nil {
		return "", fmt.Errorf("sign assertion: %w", err)
	}
	return tok, nil
}

func (t *AccessTokens) sign(typ, sub, aud string, now, exp time.Time, in IssueInput) (string, error) {
	var raw [16]byte
	if _, err := io.ReadFull(t.rand, raw[:]); err != nil {
		return "", fmt.Errorf("token id: %w", err)
	}
	roles := in.Roles
	if roles == nil {
		roles = []string{} // "roles": [] rather than null
	}
	claims := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    t.issuer,
			Subject:   sub,
			Audience:  jwt.ClaimStrings{aud},
			ExpiresAt: jwt.NewNumericDate(exp),
			NotBefore: jwt.NewNumericDate(now),
			ID:        base64.RawURLEncoding.EncodeToString(raw[:]),
		},
		IssuedAtMs: &preciseTime{now},
		SessionID:  in.SessionID,
		Username:   in.Username,
		Email:      in.Email,
		Roles:      roles,
		ClientID:   in.ClientID,
		Scope:      in.Scope,
	}
	tok := jwt.NewWithClaims(t.method, claims)
	tok.Header["typ"] = typ
	tok.Header["kid"] = t.kid
	return tok.SignedString(t.signKey)
}

// Verify checks an access token and returns the identity it carries. Every
// failure wraps problem.ErrInvalidToken.
//
// A token verified once is remembered until its exp (see verifyCache), so
// later requests with the same token cost a hash and a map lookup.
// Revocation is not decided here: the denylist check runs on every request.
func (t *AccessTokens) Verify(token string) (*identity.Identity, error) {
	if len(token) > maxTokenBytes {
		return nil, errTokenTooLong
	}
	now := t.now()
	ks := t.keys.Load()
	if id, ok := t.cache.get(token, now, ks.epoch); ok {
		return id, nil
	}
	id, err := t.verify(token, ks)
	if err != nil {
		return nil, err
	}
	// The parser allows clockSkew past exp; the cache does not, so an
	// entry never outlives its token.
	if now.Before(id.ExpiresAt) {
		t.cache.put(token, id, now, ks.epoch)
	}
	return id, nil
}

func (t *AccessTokens) verify(token string, ks *keySet) (*identity.Identity, error) {
	if !wellFormed(token) {
		return nil, errTokenMalformed
	}
	var c Claims
	keyFunc := func(tok *jwt.Token) (any, error) { return verificationKey(ks, tok) }
	if _, err := t.parser.ParseWithClaims(token, &c, keyFunc); err != nil {
		return nil, fmt.Errorf("%w: %w", problem.ErrInvalidToken, err)
	}
	// Claims golang-jwt does not require. RFC 9068 §2.2 requires iss, exp,
	// aud, sub, client_id, iat and jti; sid ties the token to its session
	// for revocation.
	switch {
	case c.IssuedAtMs == nil:
		return nil, fmt.Errorf("%w: iat claim is required", problem.ErrInvalidToken)
	case c.Subject == "":
		return nil, fmt.Errorf("%w: sub claim is required", problem.ErrInvalidToken)
	case c.SessionID == "":
		return nil, fmt.Errorf("%w: sid claim is required", problem.ErrInvalidToken)
	case c.ID == "":
		return nil, fmt.Errorf("%w: jti claim is required", problem.ErrInvalidToken)
	}
	return identity.New(identity.Identity{
		UserID:    c.Subject,
		Username:  c.Username,
		Email:     c.Email,
		Roles:     c.Roles,
		SessionID: c.SessionID,
		TokenID:   c.ID,
		IssuedAt:  c.IssuedAtMs.UTC(),
		ExpiresAt: c.ExpiresAt.UTC(),
	}), nil
}

// ExpiredIdentity returns the identity of an access token that is ours —
// signature, typ, issuer and audience all check out — but expired. It is
// how the gateway tells "send this browser to the refresh endpoint" from
// "this cookie is garbage". ok is false for anything else, a valid token
// included.
//
// golang-jwt checks the signature before any claim, and reports every
// failing claim; so the token is re-validated at an instant just before
// its exp, and must pass there: expiry was its only fault.
func (t *AccessTokens) ExpiredIdentity(token string) (id *identity.Identity, ok bool) {
	if len(token) > maxTokenBytes || !wellFormed(token) {
		return nil, false
	}
	ks := t.keys.Load()
	var c Claims
	keyFunc := func(tok *jwt.Token) (any, error) { return verificationKey(ks, tok) }
	_, err := t.parser.ParseWithClaims(token, &c, keyFunc)
	if err == nil || !errors.Is(err, jwt.ErrTokenExpired) || errors.Is(err, jwt.ErrTokenSignatureInvalid) ||
		errors.Is(err, jwt.ErrTokenUnverifiable) || c.ExpiresAt == nil {
		return nil, false
	}
	before := c.ExpiresAt.Add(-time.Second)
	v := jwt.NewValidator(jwt.WithIssuer(t.issuer), jwt.WithAudience(t.audience), jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(), jwt.WithLeeway(clockSkew), jwt.WithTimeFunc(func() time.Time { return before }))
	if v.Validate(c) != nil || c.IssuedAtMs == nil || c.Subject == "" || c.SessionID == "" || c.ID == "" {
		return nil, false
	}
	return identity.New(identity.Identity{
		UserID: c.Subject, Username: c.Username, Email: c.Email, Roles: c.Roles,
		SessionID: c.SessionID, TokenID: c.ID, IssuedAt: c.IssuedAtMs.UTC(), ExpiresAt: c.ExpiresAt.UTC(),
	}), true
}

// verificationKey is golang-jwt's Keyfunc over the key set ks. It checks the header fields the
// library leaves to us and picks the key by kid. A key is never taken from
// the token itself: jwk, jku, x5c and x5u are ignored (RFC 8725 §3.10).
func verificationKey(ks *keySet, tok *jwt.Token) (any, error) {
	typ, _ := tok.Header["typ"].(string)
	if !strings.EqualFold(typ, typAccessToken) && !strings.EqualFold(typ, "application/"+typAccessToken) {
		return nil, errors.New("typ is not " + typAccessToken) // the value is the client's: not echoed
	}
	// RFC 7515 §4.1.11: a recipient that does not understand every listed
	// extension must reject the JWS. We understand none.
	if _, ok := tok.Header["crit"]; ok {
		return nil, errors.New("crit header present")
	}
	raw, ok := tok.Header["kid"]
	if !ok {
		return ks.current, nil
	}
	kid, ok := raw.(string)
	if !ok {
		return nil, errors.New("kid is not a string")
	}
	key, ok := ks.byKid[kid]
	if !ok {
		return nil, errors.New("unknown kid")
	}
	return key, nil
}

// wellFormed reports whether token has the shape of a compact JWS: three
// non-empty segments of unpadded base64url (RFC 7515 §7.1). Whitespace,
// padding and the standard alphabet's + and / are refused here, before any
// decoding.
func wellFormed(token string) bool {
	dots, segLen := 0, 0
	for i := 0; i < len(token); i++ {
		c := token[i]
		switch {
		case c == '.':
			if segLen == 0 {
				return false
			}
			dots++
			segLen = 0
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
			segLen++
		default:
			return false
		}
	}
	return dots == 2 && segLen > 0
}

// GetIssuedAt gives golang-jwt's validator (WithIssuedAt: iat not in the
// future) the precise iat.
func (c Claims) GetIssuedAt() (*jwt.NumericDate, error) {
	if c.IssuedAtMs == nil {
		return nil, nil
	}
	return &jwt.NumericDate{Time: c.IssuedAtMs.Time}, nil
}

// preciseTime is a NumericDate with millisecond precision.
type preciseTime struct{ time.Time }

func (p preciseTime) MarshalJSON() ([]byte, error) {
	ms := p.UnixMilli()
	b := strconv.AppendInt(nil, ms/1000, 10)
	if frac := ms % 1000; frac != 0 {
		b = append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
	}
	return b, nil
}

func (p *preciseTime) UnmarshalJSON(b []byte) error {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e11 {
		return fmt.Errorf("iat is not a NumericDate")
	}
	p.Time = time.UnixMilli(int64(math.Round(f * 1000))).UTC()
	return nil
}
