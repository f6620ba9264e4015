package tokens

import (
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

func hs256WithoutSecret(t *testing.T) Config {
	t.Helper()
	cfg := testConfig(t, AlgHS256)
	cfg.Secret = ""
	return cfg
}

func TestSecretFileGeneratedOnceAndKept(t *testing.T) {
	file := filepath.Join(t.TempDir(), "data", "keys", "hs256.secret")
	first, err := New(hs256WithoutSecret(t), Options{SecretFile: file})
	if err != nil {
		t.Fatalf("New(first start) = %v", err)
	}
	if !first.SecretGenerated() {
		t.Fatalf("SecretGenerated() = false on first start; want true")
	}
	info, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Fatalf("secret file mode = %04o; want 0600", mode)
	}
	dir, err := os.Stat(filepath.Dir(file))
	if err != nil {
		t.Fatal(err)
	}
	if mode := dir.Mode().Perm(); mode != 0o700 {
		t.Fatalf("secret directory mode = %04o; want 0700", mode)
	}
	if err := checkSecret(readTestSecret(t, file)); err != nil {
		t.Fatalf("generated secret: %v", err)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(file), ".secret-*")); len(leftovers) != 0 {
		t.Fatalf("temporary files left behind: %v", leftovers)
	}

	second, err := New(hs256WithoutSecret(t), Options{SecretFile: file})
	if err != nil {
		t.Fatalf("New(restart) = %v", err)
	}
	if second.SecretGenerated() {
		t.Fatalf("SecretGenerated() = true on restart; want false (the kept secret is reused)")
	}
	tok, _, err := first.Issue("42", IssueInput{SessionID: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := second.Verify(tok); err != nil {
		t.Fatalf("after restart, Verify(token from before) = %v; want nil", err)
	}
}

// Instances starting at once on a shared directory agree on one secret.
func TestSecretFileConcurrentFirstStart(t *testing.T) {
	file := filepath.Join(t.TempDir(), "hs256.secret")
	const n = 8
	kids := make([]string, n)
	generated := make([]bool, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			tokens, err := New(hs256WithoutSecret(t), Options{SecretFile: file})
			if err != nil {
				t.Errorf("New = %v", err)
				return
			}
			kids[i], generated[i] = tokens.kid, tokens.SecretGenerated()
		})
	}
	wg.Wait()
	if uniq := slices.Compact(slices.Sorted(slices.Values(kids))); len(uniq) != 1 {
		t.Fatalf("instances use secrets %v; want one", uniq)
	}
	if c := countTrue(generated); c != 1 {
		t.Fatalf("%d instances report generating the secret; want 1", c)
	}
}

func countTrue(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

func TestSecretFileRefused(t *testing.T) {
	good := readTestSecret(t, testdataKey("hs256-a.secret"))
	tests := []struct {
		name    string
		content []byte
		mode    os.FileMode
	}{
		{name: "fail-group-readable", content: good, mode: 0o640},
		{name: "fail-world-readable", content: good, mode: 0o644},
		{name: "fail-well-known", content: []byte("changeme\n"), mode: 0o600},
		{name: "fail-too-short", content: []byte("0123456789\n"), mode: 0o600},
		{name: "fail-empty", content: nil, mode: 0o600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "hs256.secret")
			if err := os.WriteFile(file, tt.content, tt.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(file, tt.mode); err != nil { // umask may have narrowed it
				t.Fatal(err)
			}
			_, err := New(hs256WithoutSecret(t), Options{SecretFile: file})
			if got := problemPaths(t, err); !slices.Equal(got, []string{"tokens.secret"}) {
				t.Fatalf("New = %v; want a problem at tokens.secret", err)
			}
			after, _ := os.ReadFile(file)
			if string(after) != string(tt.content) {
				t.Fatalf("New rewrote a refused secret file")
			}
		})
	}
}
