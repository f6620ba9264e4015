package accounts

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"golang.org/x/crypto/bcrypt"

	"github.com/authgate/authgate/internal/testenv"
	"github.com/authgate/authgate/store"
)

// userSnapshot reads every row of users, the columns of the original
// service only, as the driver returns them.
func userSnapshot(t *testing.T, db *sqlx.DB) []map[string]any {
	t.Helper()
	return snapshotRows(t, db, `SELECT id, username, email, hashed_password, is_active, created_at FROM users ORDER BY id`)
}

// snapshotRows reads every row query returns, as column → value, with
// byte slices as strings so that rows compare with reflect.DeepEqual.
func snapshotRows(t *testing.T, db interface {
	Queryx(string, ...any) (*sqlx.Rows, error)
}, query string) []map[string]any {
	t.Helper()
	rows, err := db.Queryx(query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []map[string]any
	for rows.Next() {
		m := map[string]any{}
		if err := rows.MapScan(m); err != nil {
			t.Fatal(err)
		}
		for k, v := range m {
			if b, ok := v.([]byte); ok {
				m[k] = string(b)
			}
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMigrationsKeepOriginalUsers runs authgate's start-up — every
// migration, then the user-key backfill — on a PostgreSQL database of the
// original service, holding rows with every kind of value its schema
// allows (NULLs included), and checks every original column of every row
// is unchanged, after a first start and after a second.
func TestMigrationsKeepOriginalUsers(t *testing.T) {
	url := testenv.PostgresURL(t)
	raw, err := sqlx.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(originalSchema); err != nil {
		t.Fatalf("create the original schema: %v", err)
	}
	created := time.Date(2022, 2, 3, 4, 5, 6, 123456000, time.UTC)
	rows := []struct {
		username, email, hash any
		active, created       any
	}{
		{"alice", "alice@example.com", passlibHash(t, "alice password", 4), true, created},
		{"Bob.Builder", "Bob@Example.COM", "$2a$04$notarealhashbutkeptasis....................", false, created.Add(time.Hour)},
		{"carol", "carol@example.com", "$2y$04$php-style-prefix.............................", nil, nil},
		{"dörte", "dörte@example.com", "plain-text-legacy", true, created},
		{"eve", nil, nil, true, created},
		{"  spaced  ", "spaced@example.com", "x", true, time.Date(1999, 12, 31, 23, 59, 59, 999999000, time.UTC)},
	}
	for _, r := range rows {
		if _, err := raw.Exec(`INSERT INTO users (username, email, hashed_password, is_active, created_at) VALUES ($1, $2, $3, $4, $5)`,
			r.username, r.email, r.hash, r.active, r.created); err != nil {
			t.Fatal(err)
		}
	}
	before := userSnapshot(t, raw)
	if len(before) != len(rows) {
		t.Fatalf("inserted %d rows, read %d", len(rows), len(before))
	}
	for start := 1; start <= 2; start++ {
		db := openAccountsDB(t, url)
		if _, err := NewUsers(context.Background(), db, defaulted(Config{BcryptCost: 10})); err != nil {
			t.Fatalf("start %d: NewUsers: %v", start, err)
		}
		db.Close()
		if after := userSnapshot(t, raw); !reflect.DeepEqual(after, before) {
			t.Errorf("start %d changed the original columns:\nbefore %v\nafter  %v", start, before, after)
		}
	}
}

// TestMigrationsKeepUserData applies the migrations in two steps on both
// dialects — up to each version, then users are written through Users,
// then the rest — and checks that no later migration changes any stored
// value of users.
func TestMigrationsKeepUserData(t *testing.T) {
	for name, newURL := range testenv.Databases() {
		t.Run(name, func(t *testing.T) {
			probe := openAccountsDB(t, newURL(t))
			all, err := probe.Versions()
			if err != nil {
				t.Fatal(err)
			}
			for _, upTo := range all[:len(all)-1] {
				t.Run(fmt.Sprintf("from-%04d", upTo), func(t *testing.T) {
					url := newURL(t)
					db, err := store.OpenAt(context.Background(), url, upTo)
					if err != nil {
						t.Fatal(err)
					}
					writeUsersAt(t, db)
					before := fullUserSnapshot(t, db)
					db.Close()

					db = openAccountsDB(t, url) // the remaining migrations
					newTestUsers(t, db, Config{})
					// Columns a later migration adds are new, and empty;
					// every value stored before is unchanged.
					after := fullUserSnapshot(t, db)
					for i := range after {
						for col, v := range after[i] {
							if _, old := before[0][col]; !old && v != nil {
								t.Errorf("migrations after %04d added %s = %v to user %v; want it empty", upTo, col, v, after[i]["id"])
							}
							if _, old := before[0][col]; !old {
								delete(after[i], col)
							}
						}
					}
					if !reflect.DeepEqual(after, before) {
						t.Errorf("migrations after %04d changed users:\nbefore %v\nafter  %v", upTo, before, after)
					}
				})
			}
		})
	}
}

// writeUsersAt writes three users — kate; leo with roles; mia disabled —
// as authgate writes them, in the columns the users table has at the
// version db is migrated to. (Users itself reads the newest columns, so it
// cannot write to an older table.)
func writeUsersAt(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	hash, err := (&passwordHasher{cost: bcrypt.MinCost}).hash(ctx, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	now := storedTime(time.Now())
	for _, u := range []struct {
		name, roles string
		active      bool
	}{{"kate", "", true}, {"leo", "admin,dev", true}, {"mia", "", false}} {
		username, ukey, err := normalizeUsername(u.name)
		if err != nil {
			t.Fatal(err)
		}
		email, ekey, err := normalizeEmail(u.name + "@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, db.Rebind(`INSERT INTO users
			(username, email, hashed_password, is_active, created_at, username_key, email_key, roles, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`), username, email, hash, u.active, now, ukey, ekey, u.roles, now); err != nil {
			t.Fatalf("write user %s: %v", u.name, err)
		}
	}
}

// fullUserSnapshot reads every column of every user.
func fullUserSnapshot(t *testing.T, db *store.DB) []map[string]any {
	t.Helper()
	return snapshotRows(t, db, `SELECT * FROM users ORDER BY id`)
}
