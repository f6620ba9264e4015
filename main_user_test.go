package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/store"
)

// runUser runs `authgate user ARGS…` in this process and returns what it
// printed and its error.
func runUser(t *testing.T, args ...string) (string, error) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	runErr := user(args)
	os.Stdout = stdout
	w.Close()
	out, _ := io.ReadAll(r)
	return string(out), runErr
}

// `authgate user conflicts` lists the users rows the original service
// wrote that are one account after normalisation, and exits 1 while there
// are any (issue 12).
func TestUserConflicts(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "authgate.db")
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte("database:\n  url: sqlite:"+dbPath+"\ntokens:\n  secret: q3Xv9LmT2pWz8RkN5bYc7HdJ4fGs6AeU\naccounts:\n  bcrypt_cost: 10\nroutes:\n  - path: /\n    upstream: builtin:echo\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), "sqlite:"+dbPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"erin", "ERIN", "frank"} {
		if _, err := db.Exec(`INSERT INTO users (username, email, hashed_password, is_active, created_at, roles) VALUES (?, ?, 'x', 1, ?, '')`,
			name, name+"-"+time.Now().Format("150405.000000")+"@example.com", time.Now().UTC()); err != nil {
			t.Fatal(err)
		}
	}
	out, err := runUser(t, "conflicts", "--config", cfg)
	if err == nil || !strings.Contains(out, `username "erin": user 1 ("erin"), user 2 ("ERIN")`) || strings.Contains(out, "frank") {
		t.Errorf("user conflicts = %v, printed %q; want an error and the rows of erin only", err, out)
	}
	if _, err := db.Exec(`UPDATE users SET username = 'erin2' WHERE id = 2`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	out, err = runUser(t, "conflicts", "--config", cfg)
	if err != nil || !strings.Contains(out, "no conflicts") {
		t.Errorf("user conflicts after the rename = %v, printed %q; want none", err, out)
	}
}
