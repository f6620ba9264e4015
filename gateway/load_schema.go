package gateway

import (
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/authgate/authgate/internal/conf"
)

// schemaWalker checks a YAML node tree against the Go types it will be
// decoded into, before decoding, because yaml.v3 ignores unknown keys
// (unless decoding with KnownFields, which stops at the first) and reports
// type errors without key paths. It also expands ${VAR} in the scalar
// values it visits, and records where every key is, so that problems found
// later by Validate can be given a line and column.
type schemaWalker struct {
	file     string
	lookup   func(string) (string, bool) // environment, then .env
	index    map[string]*yaml.Node       // key path → its key (a sequence item: the item)
	expanded map[*yaml.Node]bool         // an alias revisits its anchor: expand once
	problems []*ConfigError
	// structural are the paths of values that could not be decoded as
	// written. Validate sees the zero value there, so its problems at or
	// under these paths are consequences, not news.
	structural []string
	visits     int          // nodes walked, aliases followed included
	tooBig     *ConfigError // set when visits passed maxWalk
}

// maxWalk bounds the walk: aliases can make a small file describe an
// exponential number of values ("billion laughs"). A real config has a
// few thousand at most.
const maxWalk = 100_000

func (w *schemaWalker) add(n *yaml.Node, path string, structural bool, format string, args ...any) {
	w.problems = append(w.problems, &ConfigError{File: w.file, Line: n.Line, Col: n.Column, Path: path, Msg: fmt.Sprintf(format, args...)})
	if structural {
		w.structural = append(w.structural, path)
	}
}

// present reports whether the key at path is written in the file, even
// with an empty value.
func (w *schemaWalker) present(path string) bool {
	_, ok := w.index[path]
	return ok
}

// position is the node to report a problem at path against: the key itself,
// or when it is not written, its nearest written parent.
func (w *schemaWalker) position(path string) *yaml.Node {
	for {
		if n, ok := w.index[path]; ok {
			return n
		}
		if path == "" {
			return &yaml.Node{}
		}
		path = parentPath(path)
	}
}

// parentPath drops the last element of a key path: "a.b[2]" → "a.b" →
// "a" → "".
func parentPath(path string) string {
	if strings.HasSuffix(path, "]") {
		if i := strings.LastIndexByte(path, '['); i >= 0 {
			return path[:i]
		}
	}
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[:i]
	}
	return ""
}

func (w *schemaWalker) coveredByStructural(path string) bool {
	for _, s := range w.structural {
		if path == s || strings.HasPrefix(path, s+".") || strings.HasPrefix(path, s+"[") || s == "" {
			return true
		}
	}
	return false
}

// walk checks node n, found at path, against type t.
func (w *schemaWalker) walk(path string, n *yaml.Node, t reflect.Type) {
	if w.visits++; w.visits > maxWalk {
		if w.tooBig == nil {
			w.tooBig = &ConfigError{File: w.file, Line: n.Line, Col: n.Column, Path: path,
				Msg: fmt.Sprintf("the config expands to more than %d values: aliases nested too deep", maxWalk)}
		}
		return
	}
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if t.Kind() == reflect.Pointer {
		if isNull(n) {
			return
		}
		t = t.Elem()
	}
	if t == reflect.TypeFor[conf.Duration]() {
		w.scalar(path, n, t)
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		w.mapping(path, n, t)
	case reflect.Map:
		w.dict(path, n, t)
	case reflect.Slice:
		w.list(path, n, t)
	default:
		w.scalar(path, n, t)
	}
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names what a node is, for "must be X, not Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return fmt.Sprintf("the value %q", n.Value)
}

// mapping checks a mapping decoded into struct type t: every key must be
// one of t's yaml fields (inline fields included).
func (w *schemaWalker) mapping(path string, n *yaml.Node, t reflect.Type) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		w.add(n, path, true, "must be a mapping of keys, not %s", describe(n))
		return
	}
	fields := map[string]reflect.Type{}
	var names []string
	yamlFields(t, fields, &names)
	w.dedupe(path, n)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !w.plainKey(path, k) {
			continue
		}
		ft, ok := fields[k.Value]
		if !ok {
			w.add(k, path, false, "unknown key %q%s", k.Value, suggest(k.Value, names))
			continue
		}
		p := conf.Join(path, k.Value)
		w.index[p] = k
		w.walk(p, v, ft)
	}
}

// dict checks a mapping decoded into a Go map keyed by name (upstreams).
func (w *schemaWalker) dict(path string, n *yaml.Node, t reflect.Type) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		w.add(n, path, true, "must be a mapping of names, not %s", describe(n))
		return
	}
	w.dedupe(path, n)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !w.plainKey(path, k) {
			continue
		}
		p := conf.Join(path, k.Value)
		w.index[p] = k
		w.walk(p, v, t.Elem())
	}
}

func (w *schemaWalker) list(path string, n *yaml.Node, t reflect.Type) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		hint := ""
		if n.Kind == yaml.ScalarNode {
			hint = fmt.Sprintf(": write [%s]", n.Value)
		}
		w.add(n, path, true, "must be a list, not %s%s", describe(n), hint)
		return
	}
	for i, item := range n.Content {
		p := fmt.Sprintf("%s[%d]", path, i)
		w.index[p] = item
		w.walk(p, item, t.Elem())
	}
}

// plainKey reports whether k can be a key: a scalar, and not the "<<"
// merge key, which would make "which keys are set here" depend on another
// part of the file.
func (w *schemaWalker) plainKey(path string, k *yaml.Node) bool {
	switch {
	case k.Kind != yaml.ScalarNode:
		w.add(k, path, false, "keys must be plain names, not %s", describe(k))
		return false
	case k.Value == "<<" && k.Style == 0:
		w.add(k, path, false, "merge keys (<<) are not supported: write the keys out")
		return false
	}
	return true
}

// dedupe reports keys written twice in mapping n and keeps only the last
// of each, because yaml.v3 refuses to decode any of a mapping that has a
// duplicate, which would hide every other problem in it.
func (w *schemaWalker) dedupe(path string, n *yaml.Node) {
	last := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Kind == yaml.ScalarNode {
			if j, dup := last[k.Value]; dup {
				w.add(k, path, false, "duplicate key %q: already set on line %d", k.Value, n.Content[j].Line)
			}
			last[k.Value] = i
		}
	}
	if len(last)*2 == len(n.Content) {
		return
	}
	kept := n.Content[:0:0]
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Kind != yaml.ScalarNode || last[k.Value] == i {
			kept = append(kept, k, n.Content[i+1])
		}
	}
	n.Content = kept
}

// scalar checks a single value decoded into t, after expanding variables
// in it.
func (w *schemaWalker) scalar(path string, n *yaml.Node, t reflect.Type) {
	if n.Kind != yaml.ScalarNode {
		w.add(n, path, true, "must be a single value, not %s", describe(n))
		return
	}
	if !w.expand(path, n, t) || isNull(n) {
		return
	}
	switch {
	case t == reflect.TypeFor[conf.Duration]():
		if _, err := conf.ParseDuration(n.Value); err != nil {
			w.add(n, path, true, "%v", err)
		}
	case t.Kind() == reflect.String:
	case t.Kind() == reflect.Bool:
		if n.Decode(reflect.New(t).Interface()) != nil {
			w.add(n, path, true, "%q is not true or false", n.Value)
		}
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		if n.Decode(reflect.New(t).Interface()) != nil {
			w.add(n, path, true, "%q is not a whole number", n.Value)
		}
	default:
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			_, msg := cutYAMLLine(err.Error())
			w.add(n, path, true, "%s", msg)
		}
	}
}

// expand replaces ${VAR} references in n's value (once per node) and
// reports whether the value is usable. The tag of a plain scalar is
// resolved again from the new value, so `bcrypt_cost: ${COST}` is a
// number; a string field keeps a string ("null" stays "null"), and a value
// that expands to nothing is the empty string, not null.
func (w *schemaWalker) expand(path string, n *yaml.Node, t reflect.Type) bool {
	if w.expanded[n] {
		return true
	}
	w.expanded[n] = true
	if !strings.Contains(n.Value, "${") {
		return true
	}
	v, err := expandVars(n.Value, w.lookup)
	if err != nil {
		w.add(n, path, true, "%v", err)
		return false
	}
	n.Value = v
	if n.Style&yaml.TaggedStyle != 0 {
		return true // an explicit !!tag stays
	}
	if t.Kind() == reflect.String || v == "" {
		n.Tag = "!!str"
	} else {
		n.Tag = ""
	}
	return true
}

// yamlFields lists the yaml keys of struct type t, following ",inline".
func yamlFields(t reflect.Type, into map[string]reflect.Type, names *[]string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if strings.Contains(","+opts+",", ",inline,") {
			yamlFields(f.Type, into, names)
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		into[name] = f.Type
		*names = append(*names, name)
	}
}

// suggest returns ` (did you mean "x"?)` for the known key closest to key,
// when one is close enough to be a typo, else "".
func suggest(key string, known []string) string {
	best, bestD := "", 3
	k := strings.ToLower(key)
	for _, c := range known {
		if d := editDistance(k, c); d < bestD && d < len(k) {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and transpositions of neighbours cost 1
// ("rotues" is 1 from "routes").
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
