package accounts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"golang.org/x/crypto/bcrypt"

	"github.com/authgate/authgate/internal/problem"
	"github.com/authgate/authgate/internal/testenv"
	"github.com/authgate/authgate/store"
)

// originalSchema is the DDL SQLAlchemy emits on PostgreSQL for the original
// FastAPI service's model:
//
//	id = Column(Integer, primary_key=True)
//	username = Column(String, unique=True, index=True)
//	email = Column(String, unique=True, index=True)
//	hashed_password = Column(String)
//	is_active = Column(Boolean, default=True)            # a Python-side default
//	created_at = Column(DateTime, default=datetime.utcnow)
//
// Every column but id is nullable and has no server default.
const originalSchema = `
CREATE TABLE users (
	id SERIAL NOT NULL,
	username VARCHAR,
	email VARCHAR,
	hashed_password VARCHAR,
	is_active BOOLEAN,
	created_at TIMESTAMP WITHOUT TIME ZONE,
	PRIMARY KEY (id)
);
CREATE UNIQUE INDEX ix_users_username ON users (username);
CREATE UNIQUE INDEX ix_users_email ON users (email);`

// passlibHash returns a bcrypt hash of password as passlib writes it:
// "$2b$", the given cost, over the first 72 bytes (passlib truncates;
// Go's bcrypt refuses longer input).
func passlibHash(t testing.TB, password string, cost int) string {
	t.Helper()
	p := []byte(password)
	if len(p) > bcryptMaxInput {
		p = p[:bcryptMaxInput]
	}
	h, err := bcrypt.GenerateFromPassword(p, cost)
	if err != nil {
		t.Fatal(err)
	}
	return "$2b$" + strings.TrimPrefix(string(h), "$2a$")
}

// A database of the original service is adopted as it is: migrations add
// columns, NewUsers fills the keys, and its users log in with their old
// passwords, whose hashes are upgraded on that login.
func TestAdoptOriginalPostgresTable(t *testing.T) {
	url := testenv.PostgresURL(t)
	ctx := context.Background()
	raw, err := sqlx.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(originalSchema); err != nil {
		t.Fatalf("create original schema: %v", err)
	}
	const password = "an old but fine password"
	// The original used passlib's default cost, 12; 10 keeps this test
	// quick under -race and takes the same code path.
	legacyHash := passlibHash(t, password, 10)
	created := time.Date(2023, 1, 2, 3, 4, 5, 678901000, time.UTC)
	if _, err := raw.Exec(`INSERT INTO users (username, email, hashed_password, is_active, created_at)
		VALUES ($1, $2, $3, $4, $5)`, "Legacy", "Legacy@Example.com", legacyHash, true, created); err != nil {
		t.Fatal(err)
	}

	db := openAccountsDB(t, url)
	u, err := NewUsers(ctx, db, defaulted(Config{BcryptCost: 10}))
	if err != nil {
		t.Fatalf("NewUsers on the original table: %v", err)
	}
	user, err := u.Authenticate(ctx, "legacy", password)
	if err != nil {
		t.Fatalf("Authenticate(legacy user, right password) = %v; want success", err)
	}
	if user.Username != "Legacy" || user.Email != "Legacy@Example.com" || !user.IsActive ||
		len(user.Roles) != 0 || !user.CreatedAt.Equal(created) || !user.PasswordChangedAt.IsZero() {
		t.Errorf("Authenticate(legacy) = %+v; want the original row, roles empty", user)
	}
	upgraded := storedPasswordHash(t, db, user.ID)
	if !strings.HasPrefix(upgraded, hmacBcryptScheme+"$2a$10$") {
		t.Errorf("hash after login = %.30q…; want the %s scheme at cost 10", upgraded, hmacBcryptScheme)
	}
	if _, err := u.Authenticate(ctx, "Legacy", password); err != nil {
		t.Errorf("Authenticate after upgrade = %v; want success", err)
	}
	if _, err := u.Authenticate(ctx, "Legacy", "a wrong password"); !errors.Is(err, problem.ErrInvalidCredentials) {
		t.Errorf("Authenticate(wrong password) = %v; want problem.ErrInvalidCredentials", err)
	}

	// A second start finds nothing to backfill. New accounts go into the
	// adopted table although it has no server defaults, and the keys now
	// guard case variants. (Minimum bcrypt cost from here on: speed.)
	u = newTestUsers(t, db, Config{})
	if _, err := u.Register(ctx, "LEGACY", "other@example.com", "correct horse battery"); !errors.Is(err, problem.ErrUsernameTaken) {
		t.Errorf("Register(LEGACY) = %v; want problem.ErrUsernameTaken", err)
	}
	if _, err := u.Register(ctx, "Legacy", "other@example.com", "correct horse battery"); !errors.Is(err, problem.ErrUsernameTaken) {
		t.Errorf("Register(Legacy) = %v; want problem.ErrUsernameTaken", err)
	}
	if _, err := u.Register(ctx, "other", "legacy@example.com", "correct horse battery"); !errors.Is(err, problem.ErrEmailTaken) {
		t.Errorf("Register(legacy@example.com) = %v; want problem.ErrEmailTaken", err)
	}
	fresh, err := u.Register(ctx, "newcomer", "new@example.com", "correct horse battery")
	if err != nil || !fresh.IsActive || fresh.CreatedAt.IsZero() {
		t.Fatalf("Register(newcomer) = %+v, %v; want an active user with a creation time", fresh, err)
	}
}

// Legacy hashes verify as plain bcrypt truncated at 72 bytes (what passlib
// did), and only they do; any legacy or other-cost hash is replaced at
// login.
func TestLegacyHashes(t *testing.T) {
	for name, newURL := range testenv.Databases() {
		t.Run(name, func(t *testing.T) {
			db := openAccountsDB(t, newURL(t))
			u := newTestUsers(t, db, Config{})
			ctx := context.Background()
			long := strings.Repeat("L", 72)
			tests := []struct {
				name     string
				hash     string
				login    string
				wantErr  error
				upgraded bool
			}{
				{name: "ok-2b", hash: passlibHash(t, "legacy password", 5), login: "legacy password", upgraded: true},
				{name: "ok-2a", hash: strings.Replace(passlibHash(t, "legacy password", 5), "$2b$", "$2a$", 1), login: "legacy password", upgraded: true},
				{name: "ok-2y", hash: strings.Replace(passlibHash(t, "legacy password", 5), "$2b$", "$2y$", 1), login: "legacy password", upgraded: true},
				// passlib truncated: the legacy hash of a long password accepts
				// any password with the same first 72 bytes, and keeps doing
				// so: the login may have been a typo past byte 72, which must
				// not become the password (TestLegacyLongPasswordTypo).
				{name: "ok-2b-truncated", hash: passlibHash(t, long, 5), login: long + "anything"},
				{name: "ok-2b-exactly-72", hash: passlibHash(t, long, 5), login: long, upgraded: true},
				{name: "ok-current-other-cost", hash: mustHash(t, 5, "current password"), login: "current password", upgraded: true},
				{name: "ok-current", hash: mustHash(t, bcrypt.MinCost, "current password"), login: "current password"},
				{name: "fail-2b-wrong", hash: passlibHash(t, "legacy password", 5), login: "Legacy password", wantErr: problem.ErrInvalidCredentials},
				{name: "fail-unknown-scheme", hash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", login: "x", wantErr: problem.ErrInvalidCredentials},
				{name: "fail-empty-hash", hash: "", login: "", wantErr: problem.ErrInvalidCredentials},
				{name: "fail-scheme-bad-inner", hash: hmacBcryptScheme + "garbage", login: "x", wantErr: problem.ErrInvalidCredentials},
			}
			for i, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					username := fmt.Sprintf("legacy%d", i)
					var id int64
					err := db.QueryRowx(db.Rebind(`INSERT INTO users (username, email, hashed_password, is_active, created_at, username_key, email_key, roles)
						VALUES (?, ?, ?, ?, ?, ?, ?, '') RETURNING id`),
						username, username+"@example.com", tt.hash, true, time.Now().UTC(), username, username+"@example.com").Scan(&id)
					if err != nil {
						t.Fatal(err)
					}
					_, err = u.Authenticate(ctx, username, tt.login)
					if !errors.Is(err, tt.wantErr) {
						t.Fatalf("Authenticate(%q) with hash %.8q… = %v; want %v", tt.login, tt.hash, err, tt.wantErr)
					}
					after := storedPasswordHash(t, db, id)
					if changed := after != tt.hash; changed != tt.upgraded {
						t.Fatalf("hash changed = %v; want %v (now %.40q…)", changed, tt.upgraded, after)
					}
					if !tt.upgraded {
						return
					}
					if !strings.HasPrefix(after, hmacBcryptScheme+"$2a$04$") {
						t.Errorf("upgraded hash = %.40q…; want the current scheme at the configured cost", after)
					}
					if _, err := u.Authenticate(ctx, username, tt.login); err != nil {
						t.Errorf("Authenticate after upgrade = %v; want success", err)
					}
					if tt.name == "ok-2b-exactly-72" {
						if _, err := u.Authenticate(ctx, username, long+"something else"); !errors.Is(err, problem.ErrInvalidCredentials) {
							t.Errorf("after upgrade, same 72-byte prefix = %v; want problem.ErrInvalidCredentials", err)
						}
					}
				})
			}
		})
	}
}

func mustHash(t testing.TB, cost int, password string) string {
	t.Helper()
	h, err := (&passwordHasher{cost: cost}).hash(context.Background(), password)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// Rows of the original service that are one account after normalisation
// do not stop NewUsers (issue 12: a collision the original created must not
// take the gateway down): they keep no keys, are listed by Collisions with
// every row named, and refuse their logins; every other row is adopted
// and logs in.
func TestBackfillCollision(t *testing.T) {
	for name, newURL := range testenv.Databases() {
		t.Run(name, func(t *testing.T) {
			db := openAccountsDB(t, newURL(t))
			rows := [][2]string{
				{"alice", "a1@example.com"},
				{"Ａｌｉｃｅ", "a2@example.com"},
				{"bob", "Bob@Example.com"},
				{"robert", "bob@example.com"},
				{"carol", "carol@example.com"},
			}
			hash := passlibHash(t, "correct horse battery", 4)
			for _, r := range rows {
				if _, err := db.Exec(db.Rebind(`INSERT INTO users (username, email, hashed_password, is_active, created_at, roles)
					VALUES (?, ?, ?, ?, ?, '')`), r[0], r[1], hash, true, time.Now().UTC()); err != nil {
					t.Fatal(err)
				}
			}
			var logs strings.Builder
			u, err := newUsers(context.Background(), db, Config{Registration: registrationOpen, BcryptCost: bcrypt.MinCost, MinPasswordLength: 8})
			if err != nil {
				t.Fatalf("NewUsers with colliding rows = %v; want it to start", err)
			}
			u.logger = slog.New(slog.NewTextHandler(&logs, nil))
			collisions, err := u.Collisions(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range collisions {
				got = append(got, c.Error())
			}
			want := []string{`username "alice": user 1 ("alice"), user 2 ("Ａｌｉｃｅ")`, `email "bob@example.com": user 3 ("Bob@Example.com"), user 4 ("bob@example.com")`}
			if !slices.Equal(got, want) {
				t.Errorf("Collisions = %q; want %q", got, want)
			}
			var filled int
			if err := db.Get(&filled, `SELECT COUNT(*) FROM users WHERE username_key IS NOT NULL OR email_key IS NOT NULL`); err != nil {
				t.Fatal(err)
			}
			if filled != 1 {
				t.Errorf("%d rows got keys; want 1 (carol's)", filled)
			}
			ctx := context.Background()
			if _, err := u.Authenticate(ctx, "carol", "correct horse battery"); err != nil {
				t.Errorf("Authenticate(carol, not colliding) = %v; want success", err)
			}
			for _, name := range []string{"alice", "ALICE", "bob", "robert"} {
				if _, err := u.Authenticate(ctx, name, "correct horse battery"); !errors.Is(err, problem.ErrInvalidCredentials) {
					t.Errorf("Authenticate(%s, colliding) = %v; want problem.ErrInvalidCredentials", name, err)
				}
			}
			if !strings.Contains(logs.String(), `user 1 (\"alice\"), user 2`) || !strings.Contains(logs.String(), "login refused") {
				t.Errorf("log = %q; want a refused login naming the rows", logs.String())
			}
			// Resolved by the operator: the rows are adopted at once.
			if _, err := db.Exec(db.Rebind(`DELETE FROM users WHERE id IN (?, ?)`), 2, 4); err != nil {
				t.Fatal(err)
			}
			got2, err := u.ByUsername(ctx, "ALICE")
			if err != nil || got2.ID != 1 {
				t.Errorf("ByUsername(ALICE) = %+v, %v; want user 1", got2, err)
			}
			if _, err := u.Authenticate(ctx, "bob", "correct horse battery"); err != nil {
				t.Errorf("Authenticate(bob) after the merge = %v; want success", err)
			}
		})
	}
}

// Live coexistence (issue 12): rows the original service writes while
// authgate runs are found at once, with the same normalisation; authgate
// refuses a registration whose username or email normalises like one of
// them; a case variant the original then writes beside an authgate row is
// a collision that refuses only those two accounts.
func TestAdoptWhileRunning(t *testing.T) {
	for name, newURL := range testenv.Databases() {
		t.Run(name, func(t *testing.T) {
			db := openAccountsDB(t, newURL(t))
			u := newTestUsers(t, db, Config{})
			ctx := context.Background()
			mustRegister(t, u, "dave", "dave@example.com", "correct horse battery")
			insertOriginal := func(username, email string) {
				t.Helper()
				if _, err := db.Exec(db.Rebind(`INSERT INTO users (username, email, hashed_password, is_active, created_at)
					VALUES (?, ?, ?, ?, ?)`), username, email, passlibHash(t, "correct horse battery", 4), true, time.Now().UTC()); err != nil {
					t.Fatal(err)
				}
			}
			insertOriginal("erin", "Erin@Example.com")
			if _, err := u.Authenticate(ctx, "ERIN", "correct horse battery"); err != nil {
				t.Errorf("Authenticate(ERIN) of a row the original just wrote = %v; want success without a restart", err)
			}
			insertOriginal("frank", "frank@example.com")
			if _, err := u.Register(ctx, "FRANK", "f2@example.com", "correct horse battery"); !errors.Is(err, problem.ErrUsernameTaken) {
				t.Errorf("Register(FRANK) beside the original's frank = %v; want problem.ErrUsernameTaken", err)
			}
			insertOriginal("grace", "grace@example.com")
			if _, err := u.Register(ctx, "gracie", "GRACE@example.com", "correct horse battery"); !errors.Is(err, problem.ErrEmailTaken) {
				t.Errorf("Register(GRACE@example.com) beside the original's = %v; want problem.ErrEmailTaken", err)
			}
			insertOriginal("DAVE", "dave2@example.com") // the original compares bytes
			if _, err := u.Authenticate(ctx, "dave", "correct horse battery"); !errors.Is(err, problem.ErrInvalidCredentials) {
				t.Errorf("Authenticate(dave) with the original's DAVE beside = %v; want refused", err)
			}
			if _, err := u.Register(ctx, "Dave", "dave3@example.com", "correct horse battery"); !errors.Is(err, problem.ErrUsernameTaken) {
				t.Errorf("Register(Dave) = %v; want problem.ErrUsernameTaken", err)
			}
			for _, name := range []string{"erin", "frank"} {
				if _, err := u.Authenticate(ctx, name, "correct horse battery"); err != nil {
					t.Errorf("Authenticate(%s) beside a collision = %v; want success", name, err)
				}
			}
		})
	}
}

// A database that cannot be reached, is closed, or does not answer in time
// is problem.ErrStoreUnavailable (503) — never problem.ErrInvalidCredentials.
func TestStoreUnavailable(t *testing.T) {
	ctx := context.Background()
	t.Run("fail-unreachable-postgres", func(t *testing.T) {
		x, err := sqlx.Open("postgres", "postgres://postgres@"+testenv.RefusedAddr(t)+"/authgate?sslmode=disable&connect_timeout=2")
		if err != nil {
			t.Fatal(err)
		}
		defer x.Close()
		db := &store.DB{DB: x, Dialect: store.Postgres}
		if _, err := NewUsers(ctx, db, defaulted(Config{BcryptCost: 10})); !errors.Is(err, problem.ErrStoreUnavailable) {
			t.Errorf("NewUsers(unreachable) = %v; want problem.ErrStoreUnavailable", err)
		}
		s, err := NewSessions(db, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := s.Create(ctx, 1, nil); !errors.Is(err, problem.ErrStoreUnavailable) {
			t.Errorf("Sessions.Create(unreachable) = %v; want problem.ErrStoreUnavailable", err)
		}
		if _, err := s.Rotate(ctx, RefreshTokenPrefix+"x", ""); !errors.Is(err, problem.ErrStoreUnavailable) {
			t.Errorf("Sessions.Rotate(unreachable) = %v; want problem.ErrStoreUnavailable", err)
		}
	})
	t.Run("fail-sqlite-cannot-open", func(t *testing.T) {
		x, err := sqlx.Open("sqlite", "file:"+t.TempDir()+"/missing/dir/authgate.db")
		if err != nil {
			t.Fatal(err)
		}
		defer x.Close()
		if _, err := NewUsers(ctx, &store.DB{DB: x, Dialect: store.SQLite}, defaulted(Config{BcryptCost: 10})); !errors.Is(err, problem.ErrStoreUnavailable) {
			t.Errorf("NewUsers(sqlite file in a missing directory) = %v; want problem.ErrStoreUnavailable", err)
		}
	})
	for name, newURL := range testenv.Databases() {
		t.Run("fail-closed-"+name, func(t *testing.T) {
			db := openAccountsDB(t, newURL(t))
			u := newTestUsers(t, db, Config{})
			mustRegister(t, u, "alice", "alice@example.com", "correct horse battery")
			s, err := NewSessions(db, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			db.Close()
			if _, err := u.Authenticate(ctx, "alice", "correct horse battery"); !errors.Is(err, problem.ErrStoreUnavailable) {
				t.Errorf("Authenticate(closed DB) = %v; want problem.ErrStoreUnavailable", err)
			}
			if _, err := u.List(ctx); !errors.Is(err, problem.ErrStoreUnavailable) {
				t.Errorf("List(closed DB) = %v; want problem.ErrStoreUnavailable", err)
			}
			if _, err := s.RevokeUser(ctx, 1); !errors.Is(err, problem.ErrStoreUnavailable) {
				t.Errorf("RevokeUser(closed DB) = %v; want problem.ErrStoreUnavailable", err)
			}
		})
		t.Run("fail-deadline-"+name, func(t *testing.T) {
			u := newTestUsers(t, openAccountsDB(t, newURL(t)), Config{})
			dctx, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
			defer cancel()
			if _, err := u.Get(dctx, 1); !errors.Is(err, problem.ErrStoreUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Get(expired deadline) = %v; want problem.ErrStoreUnavailable and DeadlineExceeded", err)
			}
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			if _, err := u.Get(cctx, 1); errors.Is(err, problem.ErrStoreUnavailable) || !errors.Is(err, context.Canceled) {
				t.Errorf("Get(cancelled) = %v; want context.Canceled, not problem.ErrStoreUnavailable", err)
			}
		})
	}
}

// A NULL is_active (possible in the original table) reads as disabled, as
// it did in the original service.
func TestNullIsActiveIsDisabled(t *testing.T) {
	r := userRow{IsActive: sql.NullBool{}}
	if r.user().IsActive {
		t.Error("NULL is_active read as active; want disabled")
	}
}

// The data-loss case of issue 12: a passlib user whose password is 86
// bytes logs in with its first 72 bytes and a typo after them. passlib
// accepted that, so authgate must too; but the upgrade then stored the
// typo as the password and the real one was refused from then on. A
// legacy hash verified with more than 72 bytes is never replaced.
func TestLegacyLongPasswordTypo(t *testing.T) {
	for name, newURL := range testenv.Databases() {
		t.Run(name, func(t *testing.T) {
			db := openAccountsDB(t, newURL(t))
			u := newTestUsers(t, db, Config{})
			ctx := context.Background()
			real := strings.Repeat("correct horse battery staple ", 3)[:86]
			typo := real[:72] + "XXXXXXXXXXXXXX"
			hash := passlibHash(t, real, 5)
			var id int64
			if err := db.QueryRowx(db.Rebind(`INSERT INTO users (username, email, hashed_password, is_active, created_at, roles)
				VALUES (?, ?, ?, ?, ?, '') RETURNING id`), "longpw", "longpw@example.com", hash, true, time.Now().UTC()).Scan(&id); err != nil {
				t.Fatal(err)
			}
			u = newTestUsers(t, db, Config{}) // adopts the row
			if _, err := u.Authenticate(ctx, "longpw", typo); err != nil {
				t.Fatalf("Authenticate(first 72 bytes + typo) = %v; want success, as passlib", err)
			}
			if got := storedPasswordHash(t, db, id); got != hash {
				t.Errorf("hash after a login with %d bytes = %.30q…; want the passlib hash kept", len(typo), got)
			}
			if _, err := u.Authenticate(ctx, "longpw", real); err != nil {
				t.Errorf("Authenticate(the real password) after the typo login = %v; want success", err)
			}
		})
	}
}

// accounts.password_hash: passlib (issue 12): the hashes authgate writes,
// and those it keeps, are plain "$2b$" bcrypt that the original's passlib
// verifies; an authgate-scheme hash is rewritten so at the next login; a
// password over 72 bytes is refused at registration rather than
// truncated, and a legacy hash is not touched by a login over 72 bytes.
func TestPasslibMode(t *testing.T) {
	for name, newURL := range testenv.Databases() {
		t.Run(name, func(t *testing.T) {
			db := openAccountsDB(t, newURL(t))
			u := newTestUsers(t, db, Config{PasswordHash: PasswordHashPasslib})
			ctx := context.Background()
			isPasslib := func(h string) bool { return strings.HasPrefix(h, "$2b$04$") && len(h) == 60 }

			pw72 := strings.Repeat("p", 71) + "q"
			user := mustRegister(t, u, "pam", "pam@example.com", pw72)
			h := storedPasswordHash(t, db, user.ID)
			if !isPasslib(h) {
				t.Fatalf("hash written under passlib = %.30q…; want $2b$04$", h)
			}
			if err := bcrypt.CompareHashAndPassword([]byte(h), []byte(pw72)); err != nil {
				t.Errorf("the $2b$ hash does not verify as plain bcrypt: %v", err)
			}
			if _, err := u.Register(ctx, "pat", "pat@example.com", pw72+"x"); !isValidation(err, "password") {
				t.Errorf("Register(73-byte password) under passlib = %v; want a password ValidationError", err)
			}
			if _, err := u.Authenticate(ctx, "pam", pw72); err != nil {
				t.Fatalf("Authenticate(pam) = %v", err)
			}
			if got := storedPasswordHash(t, db, user.ID); got != h {
				t.Errorf("a passlib hash at the configured cost was rewritten at login")
			}

			// Written by authgate before passlib mode: rewritten at login.
			var id int64
			if err := db.QueryRowx(db.Rebind(`INSERT INTO users (username, email, hashed_password, is_active, created_at, roles)
				VALUES (?, ?, ?, ?, ?, '') RETURNING id`), "quinn", "quinn@example.com", mustHash(t, 4, "correct horse battery"), true, time.Now().UTC()).Scan(&id); err != nil {
				t.Fatal(err)
			}
			if _, err := u.Authenticate(ctx, "quinn", "correct horse battery"); err != nil {
				t.Fatalf("Authenticate(quinn) = %v", err)
			}
			if got := storedPasswordHash(t, db, id); !isPasslib(got) {
				t.Errorf("authgate-scheme hash after a login under passlib = %.30q…; want $2b$04$", got)
			}
			if _, err := u.Authenticate(ctx, "quinn", "correct horse battery"); err != nil {
				t.Errorf("Authenticate(quinn) after the rewrite = %v", err)
			}
		})
	}
}

func isValidation(err error, field string) bool {
	var v *problem.ValidationError
	return errors.As(err, &v) && v.Field == field
}
