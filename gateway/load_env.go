package gateway

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
)

// readDotenv reads the .env file at name, if there is one. Lines are
// KEY=VALUE, optionally prefixed with "export "; blank lines and lines
// starting with "#" are skipped. A value may be 'single-quoted' (taken
// literally) or "double-quoted" (\", \\, \n, \t and \r are unescaped);
// unquoted, it runs to the end of the line or to a " #" comment. Values are
// not expanded. A later line overrides an earlier one.
//
// The file only supplies defaults: Loader consults it for variables the
// environment does not set, and never changes the process environment.
func readDotenv(name string) (map[string]string, []error) {
	data, err := os.ReadFile(name)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, []error{&ConfigError{File: name, Msg: fmt.Sprintf("cannot read: %v", errors.Unwrap(err))}}
	}
	return parseDotenv(name, data)
}

func parseDotenv(name string, data []byte) (map[string]string, []error) {
	vars := map[string]string{}
	var errs []error
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if line == 1 {
			text = strings.TrimPrefix(text, "\ufeff")
		}
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		if rest, ok := strings.CutPrefix(text, "export "); ok {
			text = strings.TrimSpace(rest)
		}
		key, raw, ok := strings.Cut(text, "=")
		key = strings.TrimSpace(key)
		if !ok || !validVarName(key) {
			errs = append(errs, &ConfigError{File: name, Line: line, Col: 1, Msg: "expected KEY=VALUE with KEY made of letters, digits and _"})
			continue
		}
		val, err := dotenvValue(strings.TrimSpace(raw))
		if err != nil {
			errs = append(errs, &ConfigError{File: name, Line: line, Col: 1, Path: key, Msg: err.Error()})
			continue
		}
		vars[key] = val
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, &ConfigError{File: name, Msg: fmt.Sprintf("cannot read: %v", err)})
	}
	return vars, errs
}

func dotenvValue(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	switch q := raw[0]; q {
	case '\'':
		end := strings.IndexByte(raw[1:], '\'')
		if end < 0 {
			return "", errors.New("unterminated single quote")
		}
		return raw[1 : 1+end], trailingComment(raw[2+end:])
	case '"':
		var b strings.Builder
		for i := 1; i < len(raw); i++ {
			c := raw[i]
			switch {
			case c == '"':
				return b.String(), trailingComment(raw[i+1:])
			case c == '\\' && i+1 < len(raw):
				i++
				switch raw[i] {
				case 'n':
					b.WriteByte('\n')
				case 't':
					b.WriteByte('\t')
				case 'r':
					b.WriteByte('\r')
				default: // \" and \\, and any other character as itself
					b.WriteByte(raw[i])
				}
			default:
				b.WriteByte(c)
			}
		}
		return "", errors.New("unterminated double quote")
	}
	if i := strings.Index(raw, " #"); i >= 0 {
		raw = raw[:i]
	}
	return strings.TrimSpace(raw), nil
}

func trailingComment(rest string) error {
	rest = strings.TrimSpace(rest)
	if rest != "" && !strings.HasPrefix(rest, "#") {
		return errors.New("unexpected text after the closing quote")
	}
	return nil
}

// validVarName reports whether s is a POSIX-style variable name.
func validVarName(s string) bool {
	if s == "" || '0' <= s[0] && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// expandVars replaces ${NAME} with the variable's value and ${NAME:-def}
// with the value, or def when the variable is unset or empty. An unset
// variable without a default expands to "": the sample config's
// `secret: ${AUTHGATE_SECRET_KEY}` relies on that to mean "generate one".
// "$${" is a literal "${"; a "$" not followed by "{" is left alone (bcrypt
// hashes and passwords contain them). The default cannot contain "}" and
// expansion is not recursive: a value is never expanded again.
func expandVars(s string, lookup func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			b.WriteString("${")
			i += 3
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return "", errors.New(`unterminated "${": write ${NAME} or ${NAME:-default}, and $${ for a literal ${`)
			}
			name, def, hasDef := strings.Cut(s[i+2:i+end], ":-")
			if !validVarName(name) {
				return "", fmt.Errorf("bad variable reference %q: write ${NAME} or ${NAME:-default}, and $${ for a literal ${", s[i:i+end+1])
			}
			v, ok := lookup(name)
			if hasDef && (!ok || v == "") {
				v = def
			}
			b.WriteString(v)
			i += end + 1
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String(), nil
}
