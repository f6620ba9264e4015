package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/authgate/authgate/internal/conf"
)

// ConfigError is one problem in a config file, where it is:
// "config.yaml:14:5: routes[1].upstream: \"billing\" is not defined under
// upstreams". Line and Col are 1-based; 0 means unknown. A problem about a
// missing key points at the nearest key that is present.
type ConfigError struct {
	File string
	Line int
	Col  int
	Path string // key path: routes[1].upstream; "" for the file as a whole
	Msg  string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
		if e.Col > 0 {
			b.WriteString(":" + strconv.Itoa(e.Col))
		}
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// File is the config file c was loaded from, as it was named to Load.
func (c *Config) File() string { return c.file }

// Loader loads config files. The zero value reads the process environment;
// tests set LookupEnv.
type Loader struct {
	// LookupEnv looks a variable up in the real environment; nil means
	// os.LookupEnv. What it does not know is then looked up in the .env
	// file beside the config file, so .env never overrides the environment.
	LookupEnv func(name string) (string, bool)
}

// Load reads, checks and completes the config at path with the process
// environment. See Loader.Parse.
func Load(path string) (*Config, error) { return Loader{}.Load(path) }

// Load reads the config file at path; see Parse.
func (l Loader) Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return l.Parse(path, data)
}

// Parse turns data, the contents of the config file named file, into a
// Config with every default resolved:
//
//  1. .env beside file is read, if present (KEY=VALUE lines).
//  2. The YAML is parsed into a node tree; ${VAR} and ${VAR:-default} are
//     expanded inside scalar values afterwards, so a variable's value can
//     never add YAML structure.
//  3. The tree is checked against the Config types: unknown keys,
//     duplicate keys, a list where a mapping belongs, values that are not
//     numbers, booleans or durations.
//  4. It is decoded, defaults are applied (telling an absent key from an
//     explicit "" by the tree), relative file names are resolved against
//     file's directory, and Validate runs.
//
// Every problem found on the way is returned at once, as an errors.Join of
// *ConfigError sorted by position; the Config is then nil.
func (l Loader) Parse(file string, data []byte) (*Config, error) {
	getenv := l.LookupEnv
	if getenv == nil {
		getenv = os.LookupEnv
	}
	dir := filepath.Dir(file)
	dotenv, envErrs := readDotenv(filepath.Join(dir, ".env"))
	lookup := func(name string) (string, bool) {
		if v, ok := getenv(name); ok {
			return v, true
		}
		v, ok := dotenv[name]
		return v, ok
	}

	doc, err := parseYAML(file, data)
	if err != nil {
		return nil, errors.Join(append(envErrs, err)...)
	}
	w := &schemaWalker{file: file, lookup: lookup, index: map[string]*yaml.Node{}, expanded: map[*yaml.Node]bool{}}
	cfg := &Config{file: file}
	var decodeErr error
	if doc != nil {
		root := doc.Content[0]
		w.index[""] = root
		w.walk("", root, reflect.TypeFor[Config]())
		if w.tooBig != nil {
			return nil, errors.Join(append(envErrs, w.tooBig)...)
		}
		decodeErr = root.Decode(cfg)
	}
	applyDefaults(cfg, w.present)
	resolveFiles(cfg, dir)
	cfg.positions = make(map[string]position, len(w.index))
	for path, n := range w.index {
		cfg.positions[path] = position{n.Line, n.Column}
	}

	errs := envErrs
	for _, e := range w.problems {
		errs = append(errs, e)
	}
	errs = append(errs, w.unreportedDecodeErrors(decodeErr)...)
	for _, e := range conf.Unjoin(cfg.Validate()) {
		var pr *conf.Problem
		if !errors.As(e, &pr) {
			pr = &conf.Problem{Msg: e.Error()}
		}
		if w.coveredByStructural(pr.Path) {
			continue // a consequence of a problem already reported
		}
		n := w.position(pr.Path)
		errs = append(errs, &ConfigError{File: file, Line: n.Line, Col: n.Column, Path: pr.Path, Msg: pr.Msg})
	}
	if len(errs) == 0 {
		return cfg, nil
	}
	slices.SortStableFunc(errs, compareErrors)
	return nil, errors.Join(errs...)
}

// located gives each *conf.Problem of err the file, line and column of its
// key, as the loader gives its own: a problem only the start can find (a
// JWKS URL that does not answer, a kept secret others can read) is
// reported where it is configured. Other errors stay as they are.
func (c *Config) located(err error) error {
	if err == nil || c.file == "" {
		return err
	}
	var out []error
	for _, e := range conf.Unjoin(err) {
		var pr *conf.Problem
		if !errors.As(e, &pr) {
			out = append(out, e)
			continue
		}
		// The nearest key present, as the loader points a missing key's
		// problem at its parent.
		path := pr.Path
		pos, ok := c.positions[path]
		for !ok && path != "" {
			path = parentPath(path)
			pos, ok = c.positions[path]
		}
		out = append(out, &ConfigError{File: c.file, Line: pos.line, Col: pos.col, Path: pr.Path, Msg: pr.Msg})
	}
	return errors.Join(out...)
}

// compareErrors orders problems as a reader meets them: .env before the
// config (it is read first), then by line and column.
func compareErrors(a, b error) int {
	x, y := a.(*ConfigError), b.(*ConfigError)
	if xd, yd := filepath.Base(x.File) == ".env", filepath.Base(y.File) == ".env"; xd != yd {
		if xd {
			return -1
		}
		return 1
	}
	if x.Line != y.Line {
		return x.Line - y.Line
	}
	return x.Col - y.Col
}

// parseYAML parses data into its document's root node; nil for an empty
// file. A syntax error is one *ConfigError, and so is a second document.
func parseYAML(file string, data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, syntaxError(file, err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		return nil, &ConfigError{File: file, Line: next.Line, Col: next.Column, Msg: "a second YAML document: the config is one document"}
	case !errors.Is(err, io.EOF):
		return nil, syntaxError(file, err)
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return &doc, nil
}

// cutYAMLLine splits yaml.v3's "yaml: line N: msg" into N and msg.
func cutYAMLLine(msg string) (int, string) {
	msg = strings.TrimPrefix(msg, "yaml: ")
	rest, ok := strings.CutPrefix(msg, "line ")
	if !ok {
		return 0, msg
	}
	num, rest, ok := strings.Cut(rest, ": ")
	n, err := strconv.Atoi(num)
	if !ok || err != nil {
		return 0, msg
	}
	return n, rest
}

func syntaxError(file string, err error) *ConfigError {
	line, msg := cutYAMLLine(err.Error())
	return &ConfigError{File: file, Line: line, Msg: "invalid YAML: " + msg}
}

// unreportedDecodeErrors returns yaml.v3's decoding errors on lines where
// the walk found nothing. The walk checks everything decoding does, so
// this is a safety net for a type the walk does not know.
func (w *schemaWalker) unreportedDecodeErrors(err error) []error {
	var te *yaml.TypeError
	if err == nil {
		return nil
	}
	if !errors.As(err, &te) {
		return []error{&ConfigError{File: w.file, Msg: err.Error()}}
	}
	lines := map[int]bool{}
	for _, p := range w.problems {
		lines[p.Line] = true
	}
	var out []error
	for _, msg := range te.Errors {
		line, msg := cutYAMLLine(msg)
		e := &ConfigError{File: w.file, Line: line, Msg: msg}
		if !lines[e.Line] {
			out = append(out, e)
		}
	}
	return out
}
