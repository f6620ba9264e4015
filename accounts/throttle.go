package accounts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"strings"
	"time"
)

// Throttle limits failed logins (auth_api.login_limit, "5/min" by default)
// per key — one key for the username, one for the client address. Each
// key's window opens at its first failure and lasts the limit's period;
// once a key has N failures in its window, Check refuses until the window
// closes. The throttle is therefore temporary by construction.
//
// The login handler:
//
//	user, ip := LoginThrottleKeys(usernameKey, clientIP)
//	if wait, err := t.Check(ctx, user, ip); err != nil { … 503 … } else if wait > 0 {
//		return &problem.ThrottledError{RetryAfter: wait} // before the password is verified
//	}
//	if wrong password { t.Fail(ctx, user, ip) } else { t.Reset(ctx, user) }
//
// Check runs before the password is verified, so a correct password is
// refused too while throttled; otherwise the throttle would tell an attacker
// which guess was right. After a successful login only the username key is
// reset, never the address key: an attacker who owns one account could
// otherwise clear its address's counter by logging into that account
// between guesses at others.
//
// Registrations use a second Throttle (auth_api.register_limit) in the
// same way, keyed by address only (RegisterThrottleKey), where every
// attempt counts as a "failure": it is attempts, not failures, that cost.
//
// Two attempts racing between Check and Fail can both get through. Service
// bounds that race with attemptGate: at most N attempts per key are between
// Check and Fail at once on one instance, so a window admits fewer than 2N
// failures per key and instance, however many requests arrive together.
type Throttle interface {
	// Check returns how long the caller must wait: > 0 while any key is
	// throttled (the longest wait of them), 0 otherwise.
	Check(ctx context.Context, keys ...string) (retryAfter time.Duration, err error)
	// Fail records one failed attempt against each key.
	Fail(ctx context.Context, keys ...string) error
	// Reset forgets the failures recorded against keys.
	Reset(ctx context.Context, keys ...string) error
}

var (
	_ Throttle = (*ThrottleMemory)(nil)
	_ Throttle = (*ThrottleRedis)(nil)
)

// LoginThrottleKeys returns the throttle keys for a login attempt.
// usernameKey is the normalised username (as in users.username_key); it is
// also lower-cased here, so that spelling variants cannot multiply an
// attacker's allowance. clientIP is the client address as established from
// trusted proxies; an IPv6 address is reduced to its /64, the block one
// subscriber usually controls. An unparseable address is keyed as given.
//
// The keys are plain strings; the throttles hash them before they store
// anything, so neither usernames nor addresses appear in Redis or memory.
func LoginThrottleKeys(usernameKey, clientIP string) (user, ip string) {
	return "user:" + strings.ToLower(usernameKey), "ip:" + addressKey(clientIP)
}

// RegisterThrottleKey returns the throttle key for a registration from
// clientIP: the address as in LoginThrottleKeys, in a space of its own so
// that registrations and failed logins are counted apart.
func RegisterThrottleKey(clientIP string) string {
	return "register-ip:" + addressKey(clientIP)
}

// addressKey is clientIP as the throttles count it: an IPv6 address by
// its /64, an IPv4-mapped one as IPv4, an unparseable one as given.
func addressKey(clientIP string) string {
	addr, err := netip.ParseAddr(clientIP)
	if err != nil {
		return clientIP
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}

// throttleHash is how a key is stored: the first 128 bits of its SHA-256,
// in hex. Enough to make collisions irrelevant; not reversible to the
// username without guessing it.
func throttleHash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:16])
}
