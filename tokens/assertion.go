package tokens

import (
	"sync"
	"time"

	"github.com/authgate/authgate/identity"
	"github.com/authgate/authgate/internal/problem"
)

// Assertions are short-lived JWTs the gateway signs for an upstream that
// wants proof of identity rather than trust in headers
// (identity_headers.assertion). They live at most assertionTTL and never
// past the access token they were made from.
const (
	assertionTTL = 60 * time.Second
	// An assertion is re-signed once less than this much of its life is
	// left, so an upstream never receives one about to expire.
	assertionRenew = 20 * time.Second
	// assertionCacheMax bounds the cache; past it the cache starts over.
	assertionCacheMax = 100_000
)

type assertionKey struct {
	id       *identity.Identity // shared by every request with the same token (verified-token cache)
	audience string
}

type assertionEntry struct {
	token   string
	renewAt time.Time
}

// assertionCache keeps signed assertions per (identity, route) so that a
// burst of requests with one token costs one signature per route and
// minute, not one per request.
type assertionCache struct {
	mu      sync.RWMutex
	entries map[assertionKey]assertionEntry
}

// Assertion returns a signed assertion of id for audience (the route name),
// from the cache while the one signed last has more than assertionRenew
// of its life left.
func (t *AccessTokens) Assertion(id *identity.Identity, audience string) (string, error) {
	now := t.now()
	key := assertionKey{id, audience}
	c := &t.assertions
	c.mu.RLock()
	e, ok := c.entries[key]
	c.mu.RUnlock()
	if ok && now.Before(e.renewAt) {
		return e.token, nil
	}
	ttl := assertionTTL
	if left := id.ExpiresAt.Sub(now); left < ttl {
		ttl = left
	}
	if ttl <= 0 {
		return "", problem.ErrInvalidToken
	}
	tok, err := t.SignAssertion(id, audience, ttl)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	if c.entries == nil || len(c.entries) >= assertionCacheMax {
		c.entries = make(map[assertionKey]assertionEntry)
	}
	c.entries[key] = assertionEntry{token: tok, renewAt: now.Add(ttl - min(assertionRenew, ttl/2))}
	c.mu.Unlock()
	return tok, nil
}
