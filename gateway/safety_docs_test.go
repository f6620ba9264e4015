package gateway

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSecurityDocNamesExist keeps SECURITY.md honest: every test it cites
// as package.TestName (or FuzzName) must be a test function in that
// package's _test.go files, and every guarantee section must cite some.
// Renaming or deleting a test without updating the threat model fails
// here.
func TestSecurityDocNamesExist(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "SECURITY.md"))
	if err != nil {
		t.Fatal(err)
	}
	defined := map[string]bool{} // "pkgdir.Name"
	funcRe := regexp.MustCompile(`(?m)^func ((?:Test|Fuzz|Benchmark)\w+)\(`)
	err = filepath.WalkDir("..", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != ".." || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		pkg := filepath.Base(filepath.Dir(path))
		for _, m := range funcRe.FindAllSubmatch(src, -1) {
			defined[pkg+"."+string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	citeRe := regexp.MustCompile(`\b([a-z]+)\.((?:Test|Fuzz|Benchmark)[A-Z]\w*)`)
	cited := citeRe.FindAllStringSubmatch(string(doc), -1)
	if len(cited) < 50 {
		t.Fatalf("SECURITY.md cites %d tests; the pattern package.TestName no longer matches how it cites them", len(cited))
	}
	for _, c := range cited {
		if !defined[c[1]+"."+c[2]] {
			t.Errorf("SECURITY.md cites %s.%s, which is not a test in package %s", c[1], c[2], c[1])
		}
	}
	// A bare TestName without its package is ambiguous: refuse it.
	bareRe := regexp.MustCompile("`((?:Test|Fuzz)[A-Z]\\w*)`")
	for _, m := range bareRe.FindAllStringSubmatch(string(doc), -1) {
		t.Errorf("SECURITY.md cites %s without its package; write package.%s", m[1], m[1])
	}

	// Every guarantee cites at least one test.
	sections := regexp.MustCompile(`(?m)^### `).Split(string(doc), -1)
	for _, s := range sections[1:] {
		title, _, _ := strings.Cut(s, "\n")
		if !citeRe.MatchString(s) {
			t.Errorf("SECURITY.md guarantee %q cites no test", title)
		}
	}
}
