package gateway

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/conf"
)

// FuzzLoadConfig feeds arbitrary bytes to the config loader as the
// contents of config.yaml and checks, for any input:
//   - Parse never panics;
//   - a refusal is only ever a list of *ConfigError, each naming the file
//     and a line within it or its end (0 only for the empty document or a
//     YAML error that yaml.v3 cannot place), so `authgate check` can always
//     point at the problem;
//   - an accepted config passes Validate on its own, and loading the same
//     bytes again yields the identical Config and route table: nothing in
//     loading depends on state, time or chance.
//
// The seeds are the golden configs of TestLoadGolden and config.yaml (added
// here) plus the files in testdata/fuzz/FuzzLoadConfig.
func FuzzLoadConfig(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "config", "*", "*.yaml"))
	seeds = append(seeds, filepath.Join("..", "config.yaml"))
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	dir := f.TempDir()
	file := filepath.Join(dir, "config.yaml")
	loader := Loader{LookupEnv: goldenEnv}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := loader.Parse(file, data)
		if err != nil {
			if c != nil {
				t.Fatalf("Parse returned a Config together with %v", err)
			}
			checkConfigErrors(t, file, data, err)
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted %q, but Validate says: %v", data, err)
		}
		again, err := loader.Parse(file, data)
		if err != nil {
			t.Fatalf("Parse accepted %q once, then refused it: %v", data, err)
		}
		if !reflect.DeepEqual(c, again) {
			t.Fatalf("Parse(%q) twice gave different configs:\n%+v\n%+v", data, c, again)
		}
		var t1, t2 bytes.Buffer
		err1, err2 := WriteRouteTable(&t1, c), WriteRouteTable(&t2, again)
		if (err1 == nil) != (err2 == nil) || t1.String() != t2.String() {
			t.Fatalf("the route table of %q differs between two loads:\n%s\n%s", data, t1.String(), t2.String())
		}
	})
}

// checkConfigErrors fails unless err is a join of *ConfigError about file,
// each on a line of data.
func checkConfigErrors(t *testing.T, file string, data []byte, err error) {
	t.Helper()
	lines := yamlLines(data)
	leaves := conf.Unjoin(err)
	if len(leaves) == 0 {
		t.Fatalf("Parse(%q) failed with an empty error", data)
	}
	for _, e := range leaves {
		var ce *ConfigError
		if !errors.As(e, &ce) || e != error(ce) {
			t.Fatalf("Parse(%q): %T %q is not a *ConfigError", data, e, e)
		}
		if ce.File != file || !strings.HasPrefix(ce.Error(), file+":") {
			t.Fatalf("Parse(%q): %q does not name the file %s", data, ce, file)
		}
		// yaml.v3 places an empty document's root ("---") at the start of
		// the line after the last: the end of the file, which is a place
		// an editor can show.
		if ce.Line < 0 || ce.Line > lines+1 || ce.Line == lines+1 && ce.Col > 1 || ce.Col < 0 {
			t.Fatalf("Parse(%q): %q points at line %d col %d of a %d-line file", data, ce, ce.Line, ce.Col, lines)
		}
		if ce.Line == 0 && ce.Path != "" && hasDocument(data) {
			t.Fatalf("Parse(%q): %q names key %s but no line", data, ce, ce.Path)
		}
		if ce.Msg == "" {
			t.Fatalf("Parse(%q): a problem without a message: %#v", data, ce)
		}
	}
}

// yamlLines counts the lines of data as YAML does: CR LF, CR, LF, and
// (yaml.v3 follows libyaml) NEL, LS and PS each end a line.
func yamlLines(data []byte) int {
	n := 1
	for i := 0; i < len(data); i++ {
		switch {
		case data[i] == '\r':
			if i+1 < len(data) && data[i+1] == '\n' {
				i++
			}
			n++
		case data[i] == '\n':
			n++
		case bytes.HasPrefix(data[i:], []byte("\u0085")), bytes.HasPrefix(data[i:], []byte("\u2028")), bytes.HasPrefix(data[i:], []byte("\u2029")):
			n++
		}
	}
	return n
}

// hasDocument reports whether data parses as a non-empty YAML document,
// so that every key problem can be placed on a line.
func hasDocument(data []byte) bool {
	doc, err := parseYAML("x", data)
	return err == nil && doc != nil
}
