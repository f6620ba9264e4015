package store

import (
	"io/fs"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// destructiveSQL matches statements that can drop or rewrite stored data.
// Comments are removed before matching.
var destructiveSQL = []struct {
	rule string
	re   *regexp.Regexp
}{
	{"DROP", regexp.MustCompile(`(?i)\bDROP\b`)},
	{"TRUNCATE", regexp.MustCompile(`(?i)\bTRUNCATE\b`)},
	{"DELETE", regexp.MustCompile(`(?i)\bDELETE\s+FROM\b`)},
	{"UPDATE", regexp.MustCompile(`(?i)\bUPDATE\s+\w+\s+SET\b`)},
	{"RENAME", regexp.MustCompile(`(?i)\bRENAME\b`)},
	{"ALTER COLUMN … TYPE", regexp.MustCompile(`(?i)\bALTER\s+(COLUMN\s+)?\w+\s+(SET\s+DATA\s+)?TYPE\b`)},
	{"REPLACE INTO / INSERT OR REPLACE", regexp.MustCompile(`(?i)\bREPLACE\s+INTO\b|\bOR\s+REPLACE\s+INTO\b`)},
}

// migrationAllowList names, per dialect/file and rule, a destructive
// statement that a review found harmless, and why. Empty: every migration
// so far only creates and adds.
var migrationAllowList = map[string]string{
	// "postgres/0042_example.sql DROP": "drops an index that 0041 replaced; no data",
}

var sqlComment = regexp.MustCompile(`--[^\n]*|(?s)/\*.*?\*/`)

// destructiveStatements returns the rules sql breaks.
func destructiveStatements(sql string) []string {
	sql = sqlComment.ReplaceAllString(sql, " ")
	var out []string
	for _, d := range destructiveSQL {
		if d.re.MatchString(sql) {
			out = append(out, d.rule)
		}
	}
	return out
}

func TestDestructiveStatements(t *testing.T) {
	tests := []struct {
		name string
		sql  string
		want []string
	}{
		{"ok-create", "CREATE TABLE IF NOT EXISTS x (id INT);", nil},
		{"ok-add-column", "ALTER TABLE users ADD COLUMN IF NOT EXISTS roles VARCHAR NOT NULL DEFAULT '';", nil},
		{"ok-create-index", "CREATE UNIQUE INDEX IF NOT EXISTS i ON users (username_key);", nil},
		{"ok-words-in-comments", "-- Sessions.Prune deletes; DROP nothing\n/* UPDATE users SET x */ CREATE INDEX i ON t (c);", nil},
		{"fail-drop-table", "DROP TABLE users;", []string{"DROP"}},
		{"fail-drop-column", "ALTER TABLE users DROP COLUMN email;", []string{"DROP"}},
		{"fail-drop-index", "drop index users_username_key_idx;", []string{"DROP"}},
		{"fail-truncate", "TRUNCATE sessions;", []string{"TRUNCATE"}},
		{"fail-delete", "DELETE FROM users WHERE is_active = false;", []string{"DELETE"}},
		{"fail-update", "UPDATE users SET email = lower(email);", []string{"UPDATE"}},
		{"fail-rename-column", "ALTER TABLE users RENAME COLUMN email TO mail;", []string{"RENAME"}},
		{"fail-alter-type", "ALTER TABLE users ALTER COLUMN created_at TYPE TIMESTAMPTZ;", []string{"ALTER COLUMN … TYPE"}},
		{"fail-alter-set-data-type", "ALTER TABLE users ALTER created_at SET DATA TYPE TEXT;", []string{"ALTER COLUMN … TYPE"}},
		{"fail-replace-into", "INSERT OR REPLACE INTO users (id) VALUES (1);", []string{"REPLACE INTO / INSERT OR REPLACE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := destructiveStatements(tt.sql); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("destructiveStatements(%q) = %q; want %q", tt.sql, got, tt.want)
			}
		})
	}
}

// TestMigrationsNeverDropUserData scans every migration of both dialects:
// none may drop, delete, truncate, rename, retype or rewrite anything,
// unless migrationAllowList says why it is harmless. Migrations only
// create and add; the original service's users table is adopted as it is.
func TestMigrationsNeverDropUserData(t *testing.T) {
	n := 0
	err := fs.WalkDir(migrationFS, "migrations", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".sql") {
			return err
		}
		n++
		body, err := fs.ReadFile(migrationFS, path)
		if err != nil {
			return err
		}
		file := strings.TrimPrefix(path, "migrations/")
		for _, rule := range destructiveStatements(string(body)) {
			if why, ok := migrationAllowList[file+" "+rule]; ok {
				t.Logf("%s: %s allowed: %s", file, rule, why)
				continue
			}
			t.Errorf("%s: %s statement: migrations must never drop or rewrite stored data (or add it to migrationAllowList with the reason)", file, rule)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 2 {
		t.Fatalf("found %d migrations; the scan is not looking at them", n)
	}
}
