package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// originalMissing skips the test, or fails it under CI=true, because
// something the original needs is not on this machine.
func originalMissing(t testing.TB, msg string) {
	t.Helper()
	msg = "!!! " + msg
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// originalSource returns the directory holding the original's main.py and
// init_db.py: TEST_ORIGINAL_DIR when set, else shared/original beside the
// checkout (see originalCandidates).
func originalSource(t testing.TB) string {
	t.Helper()
	if dir := os.Getenv("TEST_ORIGINAL_DIR"); dir != "" {
		if !isOriginal(dir) {
			originalMissing(t, fmt.Sprintf("TEST_ORIGINAL_DIR=%s holds no main.py and init_db.py of the original service", dir))
		}
		return dir
	}
	candidates, err := originalCandidates()
	if err != nil {
		originalMissing(t, fmt.Sprintf("the original service's source cannot be located: %v; set TEST_ORIGINAL_DIR", err))
	}
	for _, dir := range candidates {
		if isOriginal(dir) {
			return dir
		}
	}
	originalMissing(t, fmt.Sprintf("the original service's source is not in %s: set TEST_ORIGINAL_DIR", strings.Join(candidates, " nor ")))
	return ""
}

func isOriginal(dir string) bool {
	for _, f := range []string{"main.py", "init_db.py"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || !fi.Mode().IsRegular() {
			return false
		}
	}
	return true
}

// originalCandidates lists where shared/original may be. The project keeps
// shared/ beside its checkout: /work/main has /work/shared, and CI's clean
// clone gets a copy of shared/ beside it, so the first candidate is
// ../shared/original from the module root. A git worktree made elsewhere
// (/work/wt/NAME) has no shared/ beside it; its main checkout, found
// through the worktree's .git file, does.
func originalCandidates() ([]string, error) {
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	candidates := []string{filepath.Join(root, "..", "shared", "original")}
	if main, ok := mainWorktree(root); ok && main != root {
		candidates = append(candidates, filepath.Join(main, "..", "shared", "original"))
	}
	for i, c := range candidates {
		candidates[i] = filepath.Clean(c)
	}
	return candidates, nil
}

// moduleRoot is the nearest directory at or above the working directory
// (the package directory, under go test) that holds go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod at or above the working directory")
		}
		dir = parent
	}
}

// mainWorktree returns the main checkout of the git worktree at root: its
// .git is a file "gitdir: MAIN/.git/worktrees/NAME", and that directory's
// commondir file points at MAIN/.git. It reads files only: git itself may
// not be installed where the tests run.
func mainWorktree(root string) (string, bool) {
	b, err := os.ReadFile(filepath.Join(root, ".git"))
	if err != nil {
		return "", false // a directory (a plain checkout) or no git at all
	}
	gitdir, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir: ")
	if !ok {
		return "", false
	}
	if !filepath.IsAbs(gitdir) {
		gitdir = filepath.Join(root, gitdir)
	}
	common, err := os.ReadFile(filepath.Join(gitdir, "commondir"))
	if err != nil {
		return "", false
	}
	dir := strings.TrimSpace(string(common))
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(gitdir, dir)
	}
	dir = filepath.Clean(dir)
	if filepath.Base(dir) != ".git" {
		return "", false // a bare repository: no checkout to sit beside
	}
	return filepath.Dir(dir), true
}

// originalPython returns the interpreter that has the original's Debian
// packages, and checks that it has all of them.
func originalPython(t testing.TB) string {
	t.Helper()
	python := debianPython(t)
	if missing := missingOriginalPackages(t, python); len(missing) > 0 {
		originalMissing(t, fmt.Sprintf("%s lacks what the original service needs: install the Debian packages %s "+
			"(apt-get install %s; .ci/run installs them)", python, strings.Join(missing, " "), strings.Join(missing, " ")))
	}
	return python
}

// debianPython is TEST_ORIGINAL_PYTHON, else Debian's /usr/bin/python3,
// not whichever python3 comes first on PATH (a pyenv shim, on the
// project's machines, without any of the original's packages).
func debianPython(t testing.TB) string {
	t.Helper()
	if python := os.Getenv("TEST_ORIGINAL_PYTHON"); python != "" {
		return python
	}
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		return "/usr/bin/python3"
	}
	python, err := exec.LookPath("python3")
	if err != nil {
		originalMissing(t, "python3 is not installed: the original service needs Debian's python3 and "+
			strings.Join(originalPackages(), " ")+" (.ci/run installs them)")
	}
	return python
}

// originalModules maps each module the original imports to the Debian
// package that ships it (its README's list).
func originalModules() [][2]string {
	return [][2]string{
		{"fastapi", "python3-fastapi"},
		{"uvicorn", "python3-uvicorn"},
		{"pydantic", "python3-pydantic"},
		{"passlib", "python3-passlib"},
		{"bcrypt", "python3-bcrypt"},
		{"jwt", "python3-jwt"},
		{"sqlalchemy", "python3-sqlalchemy"},
		{"psycopg2", "python3-psycopg2"},
		{"redis", "python3-redis"},
		{"dotenv", "python3-dotenv"},
	}
}

func originalPackages() []string {
	var pkgs []string
	for _, m := range originalModules() {
		pkgs = append(pkgs, m[1])
	}
	return pkgs
}

// missingOriginalPackages imports each module in python and returns the
// Debian packages of those that fail to import.
func missingOriginalPackages(t testing.TB, python string) []string {
	t.Helper()
	const script = `import importlib, sys
for m in sys.argv[1:]:
    try:
        importlib.import_module(m)
    except Exception as e:
        print(m, type(e).__name__, e, file=sys.stderr)
        print(m)
`
	args := []string{"-c", script}
	for _, m := range originalModules() {
		args = append(args, m[0])
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, args...)
	cmd.Env = pythonEnv(t.TempDir())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		originalMissing(t, fmt.Sprintf("%s cannot run: %v\n%s", python, err, stderr.String()))
	}
	failed := map[string]bool{}
	for _, line := range strings.Fields(string(out)) {
		failed[line] = true
	}
	var missing []string
	for _, m := range originalModules() {
		if failed[m[0]] {
			missing = append(missing, m[1])
		}
	}
	if len(missing) > 0 {
		t.Logf("%s import errors:\n%s", python, stderr.String())
	}
	return missing
}
