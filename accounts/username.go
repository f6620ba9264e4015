package accounts

import (
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/authgate/authgate/internal/problem"
	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Username and email rules. Usernames are compared the way people read
// them: "Alice", "ALICE" and the fullwidth "Ａｌｉｃｅ" are one account.
const (
	usernameMinRunes = 3
	usernameMaxRunes = 64
	// usernameMaxInput bounds what Authenticate will normalise: anything
	// longer cannot be a stored username (64 runes of at most 4 bytes, with
	// room for NFKC expansion of a typed form).
	usernameMaxInput = 1024
	// emailMaxBytes is the longest address a forward path can carry
	// (RFC 5321 §4.5.3.1.3, as corrected by erratum 1690).
	emailMaxBytes = 254
)

// usernameKey is the uniqueness and lookup key of a username: NFKC, then
// Unicode default case folding, then NFKC again because folding can
// un-normalise a few characters (this is the NFKC_Casefold shape of
// Unicode §3.13 / UAX #31). Rows written by the original service get the
// same key computed in Go (see adopt): the database cannot do this.
func usernameKey(s string) string {
	// A cases.Caser keeps state: make one per call rather than share it.
	return norm.NFKC.String(cases.Fold().String(norm.NFKC.String(s)))
}

// emailKey is the uniqueness key of an email address. The local part is
// case-sensitive in theory (RFC 5321 §2.4) and case-insensitive at every
// provider that matters; folding it stops one person registering twice.
func emailKey(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// normalizeUsername checks a username typed at registration and returns the
// form to store (NFKC of what was typed) and its key.
//
// Rules: 3–64 characters after NFKC; only letters, digits, combining marks
// and . _ -; it starts with a letter or digit and does not end with . _ or -.
//
// Confusables across scripts (Cyrillic "а" U+0430 against Latin "a") are NOT
// merged into one key: no normalisation does that. Instead a username may
// not mix scripts (Common and Inherited characters aside), which refuses
// "pаypal" with a Cyrillic "а" and so blocks most spoofing of an existing
// name. The combinations a single writing system needs are allowed, as in
// the "Highly Restrictive" profile of UTS #39 §5.2: Latin with Han,
// Hiragana and Katakana (Japanese), with Han and Bopomofo (Chinese), or
// with Han and Hangul (Korean).
func normalizeUsername(raw string) (display, key string, err error) {
	if !utf8.ValidString(raw) {
		return "", "", &problem.ValidationError{Field: "username", Msg: "must be valid UTF-8"}
	}
	display = norm.NFKC.String(raw)
	n := utf8.RuneCountInString(display)
	if n < usernameMinRunes || n > usernameMaxRunes {
		return "", "", &problem.ValidationError{Field: "username", Msg: fmt.Sprintf("must be %d to %d characters long", usernameMinRunes, usernameMaxRunes)}
	}
	for _, r := range display {
		if !isUsernameRune(r) {
			return "", "", &problem.ValidationError{Field: "username", Msg: fmt.Sprintf("may contain only letters, digits and . _ - (not %q)", r)}
		}
	}
	first, _ := utf8.DecodeRuneInString(display)
	last, _ := utf8.DecodeLastRuneInString(display)
	if !unicode.IsLetter(first) && !unicode.IsDigit(first) {
		return "", "", &problem.ValidationError{Field: "username", Msg: "must start with a letter or digit"}
	}
	if isUsernamePunct(last) {
		return "", "", &problem.ValidationError{Field: "username", Msg: "must not end with . _ or -"}
	}
	if !singleWritingSystem(display) {
		return "", "", &problem.ValidationError{Field: "username", Msg: "must not mix letters of different scripts"}
	}
	return display, usernameKey(display), nil
}

func isUsernameRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) || isUsernamePunct(r)
}

func isUsernamePunct(r rune) bool { return r == '.' || r == '_' || r == '-' }

// singleWritingSystem reports whether s keeps to one script, or to one of
// the combinations of scripts a single writing system uses (UTS #39 §5.2,
// Highly Restrictive). Common (digits 0-9, punctuation) and Inherited (most
// combining marks) belong to every script.
func singleWritingSystem(s string) bool {
	writingSystems := [][]string{
		{"Latin", "Han", "Hiragana", "Katakana"},
		{"Latin", "Han", "Bopomofo"},
		{"Latin", "Han", "Hangul"},
	}
	var scripts []string
	for _, r := range s {
		sc := scriptOf(r)
		if sc == "" || sc == "Common" || sc == "Inherited" {
			continue
		}
		if !slices.Contains(scripts, sc) {
			scripts = append(scripts, sc)
		}
	}
	if len(scripts) <= 1 {
		return true
	}
	for _, allowed := range writingSystems {
		ok := true
		for _, sc := range scripts {
			if !slices.Contains(allowed, sc) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// scriptOf returns the Unicode script property of r, or "" if it has none.
// Only registration calls this, so a scan of the script tables is fine.
func scriptOf(r rune) string {
	for _, name := range []string{"Latin", "Common", "Inherited"} {
		if unicode.Is(unicode.Scripts[name], r) {
			return name
		}
	}
	for name, table := range unicode.Scripts {
		if unicode.Is(table, r) {
			return name
		}
	}
	return ""
}

// normalizeEmail checks an email address and returns the form to store
// (trimmed) and its key. It must be a bare address as net/mail parses it —
// no display name, no angle brackets, no comments — with a dot in the
// domain (a dotless domain is a typo far more often than an intranet MX)
// and at most 254 bytes.
func normalizeEmail(raw string) (addr, key string, err error) {
	s := strings.TrimSpace(raw)
	if len(s) > emailMaxBytes {
		return "", "", &problem.ValidationError{Field: "email", Msg: fmt.Sprintf("must be at most %d bytes", emailMaxBytes)}
	}
	a, perr := mail.ParseAddress(s)
	if perr != nil || a.Address == "" {
		return "", "", &problem.ValidationError{Field: "email", Msg: "must be an email address like name@example.com"}
	}
	if a.Name != "" || a.Address != s {
		return "", "", &problem.ValidationError{Field: "email", Msg: "must be a bare address like name@example.com, without a display name"}
	}
	at := strings.LastIndexByte(s, '@')
	domain := s[at+1:]
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
		return "", "", &problem.ValidationError{Field: "email", Msg: "must have a domain with a dot, like example.com"}
	}
	return s, emailKey(s), nil
}
