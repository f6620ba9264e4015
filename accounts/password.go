package accounts

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/authgate/authgate/internal/problem"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/text/unicode/norm"
)

// Password hashing.
//
// bcrypt only reads the first 72 bytes of its input, silently: two long
// passwords sharing a 72-byte prefix hash alike, and 18 four-byte emoji
// already fill it. New hashes therefore run bcrypt over a fixed-length
// pre-hash of the password:
//
//	hmacBcryptScheme + bcrypt(base64(HMAC-SHA-256(key=prehashKey, msg=NFC(password))))
//
// for example "$authgate-hmac-bcrypt-v1$2a$12$…". The pre-hash is 44 bytes,
// well under 72, and base64 has no NUL byte (C bcrypt implementations stop
// at one). The HMAC key is a public domain-separation constant, not a
// secret: it makes this pre-hash differ from a bare SHA-256 of the password
// that another system might store. The password is NFC-normalised first so
// that the same characters typed on different keyboards (composed or
// decomposed accents) verify, as NIST SP 800-63B §5.1.1.2 recommends.
//
// Hashes of the original FastAPI service (passlib: "$2b$…", also "$2a$" and
// "$2y$") are plain bcrypt of the raw password truncated at 72 bytes; they
// still verify, that way only, and are replaced by a new hash at the next
// successful login with a password of at most 72 bytes.
const (
	hmacBcryptScheme = "$authgate-hmac-bcrypt-v1"
	prehashKey       = "authgate-bcrypt-v1"
	bcryptMaxInput   = 72
)

// passwordHasher hashes and verifies passwords at one bcrypt cost. Every
// bcrypt it runs takes one of slots first, so that hashing cannot take
// every core (hashSlots); a caller whose context ends while it waits gets
// problem.ErrOverloaded.
type passwordHasher struct {
	cost int
	// passlib: write plain "$2b$" bcrypt of the password, which the
	// original's passlib verifies, and keep such hashes
	// (accounts.password_hash: passlib). The caller keeps passwords to 72
	// bytes (passwordPolicy.maxBytes).
	passlib bool
	// dummy is a hash, in the current scheme and at cost, of a random
	// password nobody knows. Verifying against it for an unknown username
	// takes as long as a wrong password for a known one, so a login's timing
	// does not tell a guesser which usernames exist.
	dummy string
	// slots is the process's bound on concurrent hashing; nil is none.
	slots *hashSlots
	// generate and compare are bcrypt's (nil: golang.org/x/crypto/bcrypt);
	// tests wrap them to count or hold hashes.
	generate func(password []byte, cost int) ([]byte, error)
	compare  func(hash, password []byte) error
}

// newPasswordHasher returns a hasher at cost, bounded by the default
// number of hashing slots (defaultHashSlots).
func newPasswordHasher(cost int, passlib bool) (*passwordHasher, error) {
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return nil, fmt.Errorf("bcrypt cost %d out of range %d..%d", cost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	h := &passwordHasher{cost: cost}
	// At construction, before any request: no slot needed.
	dummy, err := h.hash(context.Background(), rand.Text())
	if err != nil {
		return nil, err
	}
	h.dummy = dummy
	h.passlib = passlib
	h.slots = newHashSlots(0)
	return h, nil
}

func (h *passwordHasher) bcryptGenerate(password []byte) ([]byte, error) {
	if h.generate != nil {
		return h.generate(password, h.cost)
	}
	return bcrypt.GenerateFromPassword(password, h.cost)
}

func (h *passwordHasher) bcryptCompare(hash, password []byte) error {
	if h.compare != nil {
		return h.compare(hash, password)
	}
	return bcrypt.CompareHashAndPassword(hash, password)
}

// prehash is the 44-byte bcrypt input for password in the current scheme.
func passwordPrehash(password string) []byte {
	mac := hmac.New(sha256.New, []byte(prehashKey))
	mac.Write([]byte(norm.NFC.String(password)))
	out := make([]byte, base64.StdEncoding.EncodedLen(sha256.Size))
	base64.StdEncoding.Encode(out, mac.Sum(nil))
	return out
}

// hash returns the stored form of password in the current scheme.
func (h *passwordHasher) hash(ctx context.Context, password string) (string, error) {
	release, err := h.slots.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	if h.passlib {
		if len(password) > bcryptMaxInput {
			// passwordPolicy refuses these under passlib; never truncate.
			return "", fmt.Errorf("hash password: %d bytes: passlib's bcrypt reads only %d", len(password), bcryptMaxInput)
		}
		b, err := h.bcryptGenerate([]byte(password))
		if err != nil {
			return "", fmt.Errorf("hash password: %w", err)
		}
		// Go writes "$2a$", passlib "$2b$": the same algorithm for
		// passwords this short; passlib's ident is what the original reads
		// back when it writes, so it is what is stored.
		return "$2b$" + strings.TrimPrefix(string(b), "$2a$"), nil
	}
	b, err := h.bcryptGenerate(passwordPrehash(password))
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return hmacBcryptScheme + string(b), nil
}

// verify reports whether password matches the stored hash, and whether the
// hash should be replaced by h.hash(password) because it is in the legacy
// scheme or at another cost. bcrypt compares in constant time
// (subtle.ConstantTimeCompare). An unknown or malformed hash verifies as
// false after spending the time of a real verification. err is
// problem.ErrOverloaded when no hashing slot came free in time.
func (h *passwordHasher) verify(ctx context.Context, stored, password string) (ok, rehash bool, err error) {
	release, err := h.slots.acquire(ctx)
	if err != nil {
		return false, false, err
	}
	defer release()
	switch {
	case strings.HasPrefix(stored, hmacBcryptScheme):
		inner := []byte(stored[len(hmacBcryptScheme):])
		if !isBcrypt(inner) {
			break
		}
		if h.bcryptCompare(inner, passwordPrehash(password)) != nil {
			return false, false, nil
		}
		cost, err := bcrypt.Cost(inner)
		if h.passlib {
			// Rewritten as passlib bcrypt, so that the original can verify
			// it after a rollback — unless it is too long for that.
			return true, len(password) <= bcryptMaxInput, nil
		}
		return true, err != nil || cost != h.cost, nil
	case isBcrypt([]byte(stored)):
		// Legacy: passlib truncated at 72 bytes, so must we, for these
		// hashes only. A password longer than that verifies on its first
		// 72 bytes, so it may be the real one with a typo after them:
		// such a login never replaces the hash, or the typo would become
		// the password (issue 12).
		p := []byte(password)
		truncated := len(p) > bcryptMaxInput
		if truncated {
			p = p[:bcryptMaxInput]
		}
		if h.bcryptCompare([]byte(stored), p) != nil {
			return false, false, nil
		}
		if h.passlib {
			// Kept as it is (the original reads it), unless at another cost.
			cost, _ := bcrypt.Cost([]byte(stored))
			return true, !truncated && cost != h.cost, nil
		}
		return true, !truncated, nil
	}
	h.compareDummy(password)
	return false, false, nil
}

// verifyDummy does the work of verifying password against a real hash and
// throws the answer away. err is problem.ErrOverloaded when no hashing slot came
// free in time.
func (h *passwordHasher) verifyDummy(ctx context.Context, password string) error {
	release, err := h.slots.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	h.compareDummy(password)
	return nil
}

// compareDummy is verifyDummy's bcrypt, in a slot the caller holds.
func (h *passwordHasher) compareDummy(password string) {
	_ = h.bcryptCompare([]byte(h.dummy[len(hmacBcryptScheme):]), passwordPrehash(password))
}

// isBcrypt reports whether b looks like a modular-crypt bcrypt hash of a
// version Go's bcrypt reads: $2a$, $2b$ or $2y$, a two-digit cost, 53
// characters of salt and hash.
func isBcrypt(b []byte) bool {
	if len(b) != 60 || b[0] != '$' || b[1] != '2' || b[3] != '$' {
		return false
	}
	switch b[2] {
	case 'a', 'b', 'y':
	default:
		return false
	}
	_, err := bcrypt.Cost(b)
	return err == nil
}

// Password rules (NIST SP 800-63B §5.1.1.2): a minimum length in
// characters, a generous maximum, no composition rules, and no password
// from a list of the most common ones or equal to the account's own
// username or email.
const passwordMaxBytes = 1024

// passwordPolicy checks a new password.
type passwordPolicy struct {
	minRunes int
	maxBytes int                 // 0: passwordMaxBytes; 72 under accounts.password_hash: passlib
	common   map[string]struct{} // folded forms, see passwordFold
}

// passwordFold is the form in which passwords are compared with the
// common-password list and with the username or email: case-insensitive,
// and compatibility-normalised so that "ＰＡＳＳＷＯＲＤ" is "password".
func passwordFold(s string) string { return usernameKey(s) }

// check returns a *problem.ValidationError for the field "password" if password
// breaks a rule. username and email are the account's, already normalised.
func (p *passwordPolicy) check(password, username, email string) error {
	switch {
	case !utf8.ValidString(password):
		return &problem.ValidationError{Field: "password", Msg: "must be valid UTF-8"}
	case p.maxBytes != 0 && len(password) > p.maxBytes:
		return &problem.ValidationError{Field: "password", Msg: fmt.Sprintf("must be at most %d bytes (UTF-8) while passwords are kept in a form the FastAPI service can read", p.maxBytes)}
	case len(password) > passwordMaxBytes:
		return &problem.ValidationError{Field: "password", Msg: fmt.Sprintf("must be at most %d bytes", passwordMaxBytes)}
	case utf8.RuneCountInString(norm.NFC.String(password)) < p.minRunes:
		return &problem.ValidationError{Field: "password", Msg: fmt.Sprintf("must be at least %d characters long", p.minRunes)}
	}
	folded := passwordFold(password)
	if _, ok := p.common[folded]; ok {
		return &problem.ValidationError{Field: "password", Msg: "is one of the most common passwords; choose another"}
	}
	if folded == passwordFold(username) || folded == passwordFold(email) {
		return &problem.ValidationError{Field: "password", Msg: "must not be the username or email"}
	}
	return nil
}
