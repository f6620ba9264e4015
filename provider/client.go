package provider

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/crypto/bcrypt"

	"github.com/authgate/authgate/internal/conf"
)

// ErrUnknownClient is a ClientStore's answer for a client_id it does not
// hold.
var ErrUnknownClient = errors.New("unknown client")

// ClientStore finds registered clients. StaticClients serves the config's;
// a database-backed store adds those registered through the CLI.
type ClientStore interface {
	// Client returns the client with this id, or ErrUnknownClient.
	Client(ctx context.Context, id string) (*Client, error)
}

// Client is a registered client, ready for use: its secret is in the form
// it is compared in. Build one with NewClient; fields are read-only.
type Client struct {
	ID           string
	RedirectURIs []string
	Grants       []string
	Scopes       []string
	Roles        []string
	FirstParty   bool
	Public       bool

	secret *secret // nil for a public client
}

// NewClient checks cfg (defaults applied) as Validate does and builds the
// client. A database-backed ClientStore builds its clients with it too.
func NewClient(cfg ClientConfig) (*Client, error) {
	var p conf.Problems
	cfg.validate(&p, "client", "")
	if err := p.Err(); err != nil {
		return nil, fmt.Errorf("client %q: %w", cfg.ID, err)
	}
	c := &Client{
		ID:           cfg.ID,
		RedirectURIs: slices.Clone(cfg.RedirectURIs),
		Grants:       slices.Clone(cfg.Grants),
		Scopes:       slices.Clone(cfg.Scopes),
		Roles:        slices.Clone(cfg.Roles),
		FirstParty:   cfg.FirstParty,
		Public:       cfg.Public,
	}
	if !cfg.Public {
		c.secret = newSecret(cfg.Secret)
	}
	return c, nil
}

// Allows reports whether the client may use grant.
func (c *Client) Allows(grant string) bool { return slices.Contains(c.Grants, grant) }

// AllowsScope reports whether the client may request scope.
func (c *Client) AllowsScope(scope string) bool { return slices.Contains(c.Scopes, scope) }

// CheckSecret reports whether given is the client's secret. A public
// client has none, and no secret matches it.
func (c *Client) CheckSecret(given string) bool {
	return c.secret != nil && c.secret.matches(given)
}

// secret compares a presented client secret in constant time with the
// configured one: a plain secret through SHA-256 digests (so that neither
// content nor length leaks through timing), a bcrypt hash with bcrypt.
type secret struct {
	digest [sha256.Size]byte // of a plain secret
	bcrypt []byte            // or the bcrypt hash
	// verified is the digest of the last secret bcrypt accepted. A client
	// authenticates on every token, introspection and revocation request;
	// a bcrypt comparison at cost 12 takes a quarter of a second of CPU,
	// so a match is remembered as its digest, which is compared like a
	// plain secret's.
	verified atomic.Pointer[[sha256.Size]byte]
}

func newSecret(s string) *secret {
	if isBcryptHash(s) {
		return &secret{bcrypt: []byte(s)}
	}
	return &secret{digest: sha256.Sum256([]byte(s))}
}

func (s *secret) matches(given string) bool {
	d := sha256.Sum256([]byte(given))
	if s.bcrypt == nil {
		return subtle.ConstantTimeCompare(d[:], s.digest[:]) == 1
	}
	if v := s.verified.Load(); v != nil && subtle.ConstantTimeCompare(d[:], v[:]) == 1 {
		return true
	}
	if bcrypt.CompareHashAndPassword(s.bcrypt, []byte(given)) != nil {
		return false
	}
	s.verified.Store(&d)
	return true
}

// StaticClients is the ClientStore of the clients listed in config.yaml.
type StaticClients struct {
	byID map[string]*Client
}

var _ ClientStore = (*StaticClients)(nil)

// NewStaticClients builds the store of cfg's clients (defaults applied).
func NewStaticClients(cfg []ClientConfig) (*StaticClients, error) {
	s := &StaticClients{byID: make(map[string]*Client, len(cfg))}
	for _, cc := range cfg {
		c, err := NewClient(cc)
		if err != nil {
			return nil, err
		}
		if _, dup := s.byID[c.ID]; dup {
			return nil, fmt.Errorf("client %q is listed twice", c.ID)
		}
		s.byID[c.ID] = c
	}
	return s, nil
}

// Client implements ClientStore.
func (s *StaticClients) Client(_ context.Context, id string) (*Client, error) {
	if c, ok := s.byID[id]; ok {
		return c, nil
	}
	return nil, ErrUnknownClient
}

// opClient presents a Client to zitadel's op package, which asks it which
// redirect URIs, response types and grants are registered.
type opClient struct {
	c *Client
	// responseType is the one the authorization request asked for. It is
	// reported as registered so that zitadel lets every response type
	// through to Authorize, which refuses all but "code" with the error
	// RFC 6749 §4.1.2.1 names for it, unsupported_response_type (zitadel
	// would answer unauthorized_client).
	responseType oidc.ResponseType
}

var _ op.Client = opClient{}

func (o opClient) GetID() string                       { return o.c.ID }
func (o opClient) RedirectURIs() []string              { return o.c.RedirectURIs }
func (o opClient) PostLogoutRedirectURIs() []string    { return nil }
func (o opClient) LoginURL(string) string              { return "" }
func (o opClient) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeJWT }
func (o opClient) IDTokenLifetime() time.Duration      { return 0 }
func (o opClient) DevMode() bool                       { return false }
func (o opClient) ClockSkew() time.Duration            { return 0 }
func (o opClient) IsScopeAllowed(s string) bool        { return o.c.AllowsScope(s) }

func (o opClient) IDTokenUserinfoClaimsAssertion() bool { return true }

func (o opClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

func (o opClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// ApplicationType: a public client is native to zitadel, whose loopback
// port flexibility (RFC 8252 §7.3) never applies here, because
// VerifyAuthRequest has already required an exact match.
func (o opClient) ApplicationType() op.ApplicationType {
	if o.c.Public {
		return op.ApplicationTypeNative
	}
	return op.ApplicationTypeWeb
}

func (o opClient) AuthMethod() oidc.AuthMethod {
	if o.c.Public {
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic
}

func (o opClient) ResponseTypes() []oidc.ResponseType {
	if o.responseType != "" {
		return []oidc.ResponseType{o.responseType}
	}
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}

func (o opClient) GrantTypes() []oidc.GrantType {
	g := make([]oidc.GrantType, len(o.c.Grants))
	for i, s := range o.c.Grants {
		g[i] = oidc.GrantType(s)
	}
	return g
}

// clientOf returns the authgate client behind a zitadel client.
func clientOf(c op.Client) *Client {
	if oc, ok := c.(opClient); ok {
		return oc.c
	}
	return nil
}
