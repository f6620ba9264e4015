package deploy

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// ref is one reference to an environment variable in a deployment file.
type ref struct {
	Name string
	// Required is true when the reference has no default, so the value must
	// come from the deployment: ${NAME} in a config, ${NAME} or
	// ${NAME:?message} in a compose file.
	Required bool
}

// configRefs returns the variables that gateway's loader expands in s:
// ${NAME} and ${NAME:-default}; "$${" is a literal "${" and any other "$"
// is left alone (bcrypt hashes contain them).
func configRefs(s string) ([]ref, error) {
	var refs []ref
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			i += 3
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return nil, fmt.Errorf("unterminated ${ in %q", s)
			}
			name, _, hasDefault := strings.Cut(s[i+2:i+end], ":-")
			if !validName(name) {
				return nil, fmt.Errorf("bad variable reference %q", s[i:i+end+1])
			}
			refs = append(refs, ref{Name: name, Required: !hasDefault})
			i += end + 1
		default:
			i++
		}
	}
	return refs, nil
}

// composeRefs returns the variables Compose interpolates in s: $NAME,
// ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message},
// ${NAME?message}, ${NAME:+alt} and ${NAME+alt}; "$$" is a literal "$".
// Nested references (a default holding ${…}) are reported as errors: the
// deploy files do not use them, and a silent misparse would hide a variable.
func composeRefs(s string) ([]ref, error) {
	var refs []ref
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			continue
		}
		switch c := s[i+1]; {
		case c == '$':
			i++
		case c == '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return nil, fmt.Errorf("unterminated ${ in %q", s)
			}
			body := s[i+2 : i+end]
			if strings.Contains(body, "${") {
				return nil, fmt.Errorf("nested reference in %q: not supported here", s[i:])
			}
			n := strings.IndexFunc(body, func(r rune) bool { return !isNameRune(r) })
			name, op := body, ""
			if n >= 0 {
				name, op = body[:n], body[n:]
			}
			required := true
			switch {
			case op == "", strings.HasPrefix(op, ":?"), strings.HasPrefix(op, "?"):
			case strings.HasPrefix(op, ":-"), strings.HasPrefix(op, "-"),
				strings.HasPrefix(op, ":+"), strings.HasPrefix(op, "+"):
				required = false
			default:
				return nil, fmt.Errorf("bad variable reference %q", s[i:i+end+1])
			}
			if !validName(name) {
				return nil, fmt.Errorf("bad variable reference %q", s[i:i+end+1])
			}
			refs = append(refs, ref{Name: name, Required: required})
			i += end
		case isNameRune(rune(c)) && !('0' <= c && c <= '9'):
			n := i + 1
			for n < len(s) && isNameRune(rune(s[n])) {
				n++
			}
			refs = append(refs, ref{Name: s[i+1 : n], Required: true})
			i = n - 1
		}
	}
	return refs, nil
}

func isNameRune(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_'
}

// validName reports whether s is a POSIX-style variable name.
func validName(s string) bool {
	return s != "" && !('0' <= s[0] && s[0] <= '9') && strings.IndexFunc(s, func(r rune) bool { return !isNameRune(r) }) < 0
}

// yamlRefs applies find to every scalar value in the YAML document doc
// (mapping values and sequence items; keys are never expanded) and returns
// every reference found, in document order.
func yamlRefs(doc []byte, find func(string) ([]ref, error)) ([]ref, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(doc, &root); err != nil {
		return nil, err
	}
	var refs []ref
	var errs []error
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c)
			}
		case yaml.MappingNode:
			for i := 1; i < len(n.Content); i += 2 {
				walk(n.Content[i])
			}
		case yaml.ScalarNode:
			r, err := find(n.Value)
			if err != nil {
				errs = append(errs, fmt.Errorf("line %d: %w", n.Line, err))
			}
			refs = append(refs, r...)
		}
	}
	walk(&root)
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return refs, nil
}

// names returns the sorted, distinct names of refs; with requiredOnly,
// only those of references without a default.
func names(refs []ref, requiredOnly bool) []string {
	var out []string
	for _, r := range refs {
		if (r.Required || !requiredOnly) && !slices.Contains(out, r.Name) {
			out = append(out, r.Name)
		}
	}
	slices.Sort(out)
	return out
}

func TestConfigRefs(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []ref
		wantErr bool
	}{
		{name: "ok-plain", in: "${AUTHGATE_SECRET_KEY}", want: []ref{{"AUTHGATE_SECRET_KEY", true}}},
		{name: "ok-default", in: "${LEVEL:-info}", want: []ref{{"LEVEL", false}}},
		{name: "ok-empty-default", in: "${KEY:-}", want: []ref{{"KEY", false}}},
		{name: "ok-inside-text", in: "postgres://u:${PW}@db/${DB:-app}", want: []ref{{"PW", true}, {"DB", false}}},
		{name: "ok-escaped", in: "$${NOT_A_VAR} and ${A}", want: []ref{{"A", true}}},
		{name: "ok-lone-dollar", in: "$2a$12$abc", want: nil},
		{name: "fail-compose-syntax", in: "${A:?msg}", wantErr: true},
		{name: "fail-unterminated", in: "${A", wantErr: true},
		{name: "fail-bad-name", in: "${1A}", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := configRefs(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("configRefs(%q) error = %v; wantErr %v", tt.in, err, tt.wantErr)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("configRefs(%q) = %v; want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestComposeRefs(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []ref
		wantErr bool
	}{
		{name: "ok-braced", in: "${A}", want: []ref{{"A", true}}},
		{name: "ok-bare", in: "$A/x", want: []ref{{"A", true}}},
		{name: "ok-required-message", in: "${A:?set A in .env (openssl rand -hex 24)}", want: []ref{{"A", true}}},
		{name: "ok-required-unset-only", in: "${A?unset}", want: []ref{{"A", true}}},
		{name: "ok-defaults", in: "${A:-x} ${B-y} ${C:+z} ${D+w}", want: []ref{{"A", false}, {"B", false}, {"C", false}, {"D", false}}},
		{name: "ok-in-url", in: "postgres://u:${PW:?x}@db:5432/app", want: []ref{{"PW", true}}},
		{name: "ok-escaped", in: "$$A $${B}", want: nil},
		{name: "ok-dollar-digit", in: "$1", want: nil},
		{name: "fail-nested", in: "${A:-${B}}", wantErr: true},
		{name: "fail-unterminated", in: "${A", wantErr: true},
		{name: "fail-bad-operator", in: "${A/x/y}", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := composeRefs(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("composeRefs(%q) error = %v; wantErr %v", tt.in, err, tt.wantErr)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("composeRefs(%q) = %v; want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestYAMLRefs(t *testing.T) {
	doc := []byte(`
# ${IN_A_COMMENT}
a: ${A}
${KEY_IS_NOT_EXPANDED}: x
list: ["${B:-b}", plain]
nested: {c: "${C}"}
`)
	got, err := yamlRefs(doc, configRefs)
	if err != nil {
		t.Fatalf("yamlRefs: %v", err)
	}
	want := []ref{{"A", true}, {"B", false}, {"C", true}}
	if !slices.Equal(got, want) {
		t.Errorf("yamlRefs = %v; want %v", got, want)
	}
	if _, err := yamlRefs([]byte("a: ${BROKEN"), configRefs); err == nil {
		t.Errorf("yamlRefs(%q) = nil error; want the reference error", "a: ${BROKEN")
	}
}
