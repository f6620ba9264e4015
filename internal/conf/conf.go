package conf

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written in YAML as Go spells it: "15m",
// "168h", "250ms". A bare number is refused: "15" could mean seconds or
// minutes, and a config should not leave that to the reader.
type Duration time.Duration

// UnmarshalYAML parses a duration string. A malformed value is reported as
// a *yaml.TypeError so that decoding carries on and every problem in the
// file is collected in one pass.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %v", n.Line, err)}}
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration back in Go syntax.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats the duration as Go does.
func (d Duration) String() string { return time.Duration(d).String() }

// ParseDuration is time.ParseDuration with the rules authgate's config
// applies: a unit is required and the value may not be negative.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New(`empty duration: write it like "30s", "15m" or "168h"`)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: write it like \"30s\", \"15m\" or \"168h\"", s)
	}
	if v < 0 {
		return 0, fmt.Errorf("invalid duration %q: must not be negative", s)
	}
	return v, nil
}

// Problem is one thing wrong with a config, addressed by its key path
// (`routes[1].upstream`, `tokens.algorithm`). The loader turns the path into
// file:line:column when it reports it.
type Problem struct {
	Path string // dotted key path, with [i] for sequence items
	Msg  string // what is wrong and, where useful, the rule: "must be one of acme, files"
}

func (p *Problem) Error() string {
	if p.Path == "" {
		return p.Msg
	}
	return p.Path + ": " + p.Msg
}

// Problems collects every problem found while validating, so that a user
// fixes a config in one round instead of one error at a time.
type Problems struct {
	list []error
}

// Addf records a problem at path.
func (p *Problems) Addf(path, format string, args ...any) {
	p.list = append(p.list, &Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Add records err. A *Problem keeps its path; any other error is filed under
// path.
func (p *Problems) Add(path string, err error) {
	if err == nil {
		return
	}
	var pr *Problem
	if errors.As(err, &pr) {
		p.list = append(p.list, err)
		return
	}
	p.list = append(p.list, &Problem{Path: path, Msg: err.Error()})
}

// Merge appends the problems of err (an errors.Join of problems, or a single
// one) with prefix prepended to each path.
func (p *Problems) Merge(prefix string, err error) {
	if err == nil {
		return
	}
	for _, e := range Unjoin(err) {
		var pr *Problem
		if errors.As(e, &pr) {
			p.list = append(p.list, &Problem{Path: Join(prefix, pr.Path), Msg: pr.Msg})
			continue
		}
		p.list = append(p.list, &Problem{Path: prefix, Msg: e.Error()})
	}
}

// Err returns every problem joined, or nil.
func (p *Problems) Err() error { return errors.Join(p.list...) }

// Len reports how many problems were recorded.
func (p *Problems) Len() int { return len(p.list) }

// Unjoin flattens an errors.Join tree into its leaves.
func Unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, Unjoin(e)...)
		}
		return out
	}
	return []error{err}
}

// Join builds a key path: Join("tokens", "secret") = "tokens.secret";
// Join("routes", "[2]") = "routes[2]".
func Join(prefix, path string) string {
	switch {
	case prefix == "":
		return path
	case path == "":
		return prefix
	case strings.HasPrefix(path, "["):
		return prefix + path
	}
	return prefix + "." + path
}

// CheckFile reports why name, a file the config names, cannot be used: it
// does not exist, cannot be read, or is not a regular file. nil when it is
// a regular file. Validation stats the files it is given, so that a
// missing certificate or key is reported with the rest of the config's
// problems rather than at start.
func CheckFile(name string) error {
	fi, err := os.Stat(name)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("file %s does not exist", name)
	case err != nil:
		return fmt.Errorf("file %s cannot be read: %v", name, errors.Unwrap(err))
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file", name)
	}
	return nil
}
