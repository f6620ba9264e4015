package provider

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sync"
	"time"
)

// Expected outcomes of a CodeStore.
var (
	ErrCodeNotFound = errors.New("authorization code not found")
	// ErrCodeReused: the code was redeemed before. Redeem returns it with
	// the code, whose SessionID names the tokens the first redemption
	// produced, so that they can be revoked (RFC 6749 §4.1.2).
	ErrCodeReused = errors.New("authorization code used twice")
)

// AuthCode is what an authorization code stands for, bound at the
// authorization endpoint and checked at the token endpoint.
type AuthCode struct {
	ClientID    string
	RedirectURI string
	Challenge   string // PKCE S256 code_challenge; "" when the client sent none
	Nonce       string
	Scopes      []string
	UserID      string
	AuthTime    time.Time
	Expires     time.Time // at most 60 s after issue (RFC 6749 §4.1.2: short-lived)
	// SessionID is the session the code's tokens opened; "" until the
	// token endpoint has recorded it with Issued.
	SessionID string
}

// CodeStore keeps authorization codes, by the SHA-256 of the code (the
// code itself is never stored), for every instance: the browser's
// redirect may reach one instance and the client's token request
// another. MemoryCodes is the single-instance implementation; the
// database one is a table (see the provider's wiring notes).
type CodeStore interface {
	// Save stores a new code under hash.
	Save(ctx context.Context, hash string, c AuthCode) error
	// Redeem marks the code used, atomically, and returns it. A code
	// redeemed before gives the code and ErrCodeReused (and the store
	// remembers the reuse, for Issued); an unknown one ErrCodeNotFound.
	// A store may forget codes some time after they expire.
	Redeem(ctx context.Context, hash string) (*AuthCode, error)
	// Issued records the session the code's tokens opened. If the code
	// was redeemed again meanwhile, it returns ErrCodeReused: the caller
	// then revokes that session itself.
	Issued(ctx context.Context, hash, sessionID string) error
}

// codeHash is the key a code is stored under. SHA-256 without a salt is
// enough: a code is 256 random bits, never guessable from its hash.
func codeHash(code string) string {
	sum := sha256.Sum256([]byte(code))
	return hex.EncodeToString(sum[:])
}

// MemoryCodes is a CodeStore in this process's memory: for tests and a
// single instance. Used codes are kept for Retain after they expire, so a
// late second use still revokes what the first produced.
type MemoryCodes struct {
	retain time.Duration
	now    func() time.Time

	mu    sync.Mutex
	codes map[string]*memoryCode
}

type memoryCode struct {
	code     AuthCode
	redeemed bool
	reused   bool
}

var _ CodeStore = (*MemoryCodes)(nil)

// NewMemoryCodes returns an empty store that forgets a code retain after it
// expired.
func NewMemoryCodes(retain time.Duration) *MemoryCodes {
	return &MemoryCodes{retain: retain, now: time.Now, codes: make(map[string]*memoryCode)}
}

// Save implements CodeStore. It also drops codes past their retention.
func (m *MemoryCodes) Save(_ context.Context, hash string, c AuthCode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	for h, mc := range m.codes {
		if now.After(mc.code.Expires.Add(m.retain)) {
			delete(m.codes, h)
		}
	}
	c.Scopes = append([]string(nil), c.Scopes...)
	m.codes[hash] = &memoryCode{code: c}
	return nil
}

// Redeem implements CodeStore.
func (m *MemoryCodes) Redeem(_ context.Context, hash string) (*AuthCode, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mc, ok := m.codes[hash]
	if !ok {
		return nil, ErrCodeNotFound
	}
	c := mc.code
	c.Scopes = append([]string(nil), c.Scopes...)
	if mc.redeemed {
		mc.reused = true
		return &c, ErrCodeReused
	}
	mc.redeemed = true
	return &c, nil
}

// Issued implements CodeStore.
func (m *MemoryCodes) Issued(_ context.Context, hash, sessionID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	mc, ok := m.codes[hash]
	if !ok {
		return ErrCodeNotFound
	}
	mc.code.SessionID = sessionID
	if mc.reused {
		return ErrCodeReused
	}
	return nil
}
