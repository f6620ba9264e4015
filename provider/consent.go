package provider

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// ConsentStore remembers which scopes a user has let a third-party
// (not first_party) client have, so the consent screen is shown once, and
// again only for more scopes or prompt=consent.
type ConsentStore interface {
	// Consented returns the scopes userID has granted clientID (none: nil).
	Consented(ctx context.Context, userID, clientID string) ([]string, error)
	// Consent adds scopes to what userID has granted clientID.
	Consent(ctx context.Context, userID, clientID string, scopes []string) error
}

// MemoryConsents is a ConsentStore in this process's memory, for tests
// and a single instance.
type MemoryConsents struct {
	mu sync.Mutex
	m  map[[2]string][]string
}

var _ ConsentStore = (*MemoryConsents)(nil)

// NewMemoryConsents returns an empty store.
func NewMemoryConsents() *MemoryConsents {
	return &MemoryConsents{m: make(map[[2]string][]string)}
}

// Consented implements ConsentStore.
func (m *MemoryConsents) Consented(_ context.Context, userID, clientID string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.m[[2]string{userID, clientID}]), nil
}

// Consent implements ConsentStore.
func (m *MemoryConsents) Consent(_ context.Context, userID, clientID string, scopes []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := [2]string{userID, clientID}
	for _, s := range scopes {
		if !slices.Contains(m.m[k], s) {
			m.m[k] = append(m.m[k], s)
		}
	}
	return nil
}

// A consent ticket is what the consent page's form carries back to the
// authorization endpoint: a short-lived JWT, signed with the provider's
// key, saying which user was asked to let which client have which scopes
// for which redirect URI. It makes the decision a synchronizer token
// (OWASP CSRF): another site cannot produce one for the victim, and one
// cannot be moved to another user, client, redirect URI or set of scopes.
// Being signed, it needs no shared state between instances.
type consentTicket struct {
	jwt.Claims
	ClientID    string `json:"client_id"`
	RedirectURI string `json:"redirect_uri"`
	Scope       string `json:"scope"`
}

var errBadTicket = errors.New("consent ticket is not valid")

// ticketLeeway absorbs clock differences between the instance that made a
// ticket and the one that checks it.
const ticketLeeway = time.Minute

func (p *Provider) consentTicket(userID, clientID, redirectURI string, scopes []string) (string, error) {
	now := p.now()
	t := consentTicket{
		Claims: jwt.Claims{
			Issuer:   p.issuer,
			Subject:  userID,
			Audience: jwt.Audience{p.issuer},
			IssuedAt: jwt.NewNumericDate(now),
			Expiry:   jwt.NewNumericDate(now.Add(consentTTL)),
		},
		ClientID:    clientID,
		RedirectURI: redirectURI,
		Scope:       strings.Join(scopes, " "),
	}
	return jwt.Signed(p.sign.consent).Claims(t).Serialize()
}

// checkConsentTicket verifies raw for exactly this user, client, redirect
// URI and scopes.
func (p *Provider) checkConsentTicket(raw, userID, clientID, redirectURI string, scopes []string) error {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{p.sign.alg})
	if err != nil || len(tok.Headers) != 1 || tok.Headers[0].ExtraHeaders[jose.HeaderType] != typConsent {
		return errBadTicket
	}
	var t consentTicket
	if err := tok.Claims(p.sign.public, &t); err != nil {
		return errBadTicket
	}
	err = t.ValidateWithLeeway(jwt.Expected{
		Issuer: p.issuer, Subject: userID, AnyAudience: jwt.Audience{p.issuer}, Time: p.now(),
	}, ticketLeeway)
	if err != nil || t.ClientID != clientID || t.RedirectURI != redirectURI || t.Scope != strings.Join(scopes, " ") {
		return errBadTicket
	}
	return nil
}

// needsConsent reports whether userID must be asked before clientID gets
// scopes.
func (p *Provider) needsConsent(ctx context.Context, c *Client, userID string, scopes []string, prompt []string) (bool, error) {
	if c.FirstParty {
		return false, nil
	}
	if slices.Contains(prompt, oidc.PromptConsent) {
		return true, nil
	}
	granted, err := p.consents.Consented(ctx, userID, c.ID)
	if err != nil {
		return false, err
	}
	for _, s := range scopes {
		if !slices.Contains(granted, s) {
			return true, nil
		}
	}
	return false, nil
}
