package accounts

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/problem"
	"github.com/authgate/authgate/internal/testenv"
)

func TestNewUsersConfig(t *testing.T) {
	db := openAccountsDB(t, testenv.SQLiteURL(t))
	tests := []struct {
		name    string
		cfg     Config
		wantErr []string // key paths that must be reported
	}{
		{name: "ok-defaults", cfg: Config{}},
		{name: "ok-closed", cfg: Config{Registration: "closed", BcryptCost: 10, MinPasswordLength: 12}},
		{name: "fail-registration", cfg: Config{Registration: "invite"}, wantErr: []string{"accounts.registration"}},
		{name: "fail-cost-low", cfg: Config{BcryptCost: 9}, wantErr: []string{"accounts.bcrypt_cost"}},
		{name: "fail-cost-high", cfg: Config{BcryptCost: 17}, wantErr: []string{"accounts.bcrypt_cost"}},
		{name: "fail-min-length", cfg: Config{MinPasswordLength: 6}, wantErr: []string{"accounts.min_password_length"}},
		{name: "fail-all-at-once", cfg: Config{Registration: "x", BcryptCost: 3, MinPasswordLength: 500},
			wantErr: []string{"accounts.registration", "accounts.bcrypt_cost", "accounts.min_password_length"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewUsers(context.Background(), db, defaulted(tt.cfg))
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("NewUsers(%+v) = %v; want success", tt.cfg, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("NewUsers(%+v) = nil error; want problems at %v", tt.cfg, tt.wantErr)
			}
			for _, path := range tt.wantErr {
				if !strings.Contains(err.Error(), path+": ") {
					t.Errorf("NewUsers(%+v) = %q; want a problem at %s", tt.cfg, err, path)
				}
			}
		})
	}
}

func TestRegisterNormalisedDuplicates(t *testing.T) {
	for name, newURL := range testenv.Databases() {
		t.Run(name, func(t *testing.T) {
			u := newTestUsers(t, openAccountsDB(t, newURL(t)), Config{})
			ctx := context.Background()
			alice := mustRegister(t, u, "Alice", "alice@example.com", "correct horse battery")
			if alice.Username != "Alice" || !alice.IsActive || alice.Roles == nil || len(alice.Roles) != 0 {
				t.Errorf("Register(Alice) = %+v; want username Alice, active, roles []", alice)
			}
			tests := []struct {
				name            string
				username, email string
				wantErr         error
			}{
				{name: "fail-same", username: "Alice", email: "a2@example.com", wantErr: problem.ErrUsernameTaken},
				{name: "fail-upper", username: "ALICE", email: "a3@example.com", wantErr: problem.ErrUsernameTaken},
				{name: "fail-fullwidth", username: "Ａｌｉｃｅ", email: "a4@example.com", wantErr: problem.ErrUsernameTaken},
				{name: "fail-email-case", username: "alice2", email: "ALICE@Example.COM", wantErr: problem.ErrEmailTaken},
				{name: "fail-email-spaces", username: "alice3", email: "  alice@example.com ", wantErr: problem.ErrEmailTaken},
				{name: "ok-other", username: "Alicia", email: "alicia@example.com"},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					_, err := u.Register(ctx, tt.username, tt.email, "correct horse battery")
					if !errors.Is(err, tt.wantErr) {
						t.Errorf("Register(%q, %q) = %v; want %v", tt.username, tt.email, err, tt.wantErr)
					}
				})
			}
			// The stored name is NFKC of what was typed; lookups normalise.
			wide := mustRegister(t, u, "Ｂｏｂ", "bob@example.com", "correct horse battery")
			if wide.Username != "Bob" {
				t.Errorf("Register(Ｂｏｂ).Username = %q; want %q", wide.Username, "Bob")
			}
			for _, q := range []string{"alice", "ALICE", "Ａｌｉｃｅ"} {
				got, err := u.ByUsername(ctx, q)
				if err != nil || got.ID != alice.ID {
					t.Errorf("ByUsername(%q) = %v, %v; want user %d", q, got, err, alice.ID)
				}
			}
			if _, err := u.ByUsername(ctx, "nobody"); !errors.Is(err, problem.ErrNotFound) {
				t.Errorf("ByUsername(nobody) = %v; want problem.ErrNotFound", err)
			}
			if _, err := u.Get(ctx, 99999); !errors.Is(err, problem.ErrNotFound) {
				t.Errorf("Get(99999) = %v; want problem.ErrNotFound", err)
			}
			list, err := u.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, x := range list {
				names = append(names, x.Username)
			}
			if want := []string{"Alice", "Alicia", "Bob"}; !slices.Equal(names, want) {
				t.Errorf("List() usernames = %v; want %v", names, want)
			}
		})
	}
}

func TestRegisterValidation(t *testing.T) {
	u := newTestUsers(t, openAccountsDB(t, testenv.SQLiteURL(t)), Config{})
	long := strings.Repeat("a", 64)
	tests := []struct {
		name      string
		username  string
		email     string
		password  string
		wantField string // "" = success
	}{
		{name: "ok-plain", username: "carol", email: "carol@example.com", password: "correct horse battery"},
		{name: "ok-punct-inside", username: "d.o_n-e", email: "done@example.com", password: "correct horse battery"},
		{name: "ok-64", username: long, email: "long@example.com", password: "correct horse battery"},
		{name: "ok-accents", username: "José", email: "jose@example.com", password: "correct horse battery"},
		{name: "ok-decomposed-accent", username: "Rene\u0301e", email: "renee@example.com", password: "correct horse battery"},
		{name: "ok-cyrillic", username: "Дмитрий", email: "dmitry@example.com", password: "correct horse battery"},
		{name: "ok-japanese", username: "田中さん", email: "tanaka@example.com", password: "correct horse battery"},
		{name: "ok-digits", username: "007bond", email: "bond@example.com", password: "correct horse battery"},
		{name: "fail-short", username: "ab", email: "ab@example.com", password: "correct horse battery", wantField: "username"},
		{name: "fail-long", username: long + "a", email: "x@example.com", password: "correct horse battery", wantField: "username"},
		{name: "fail-space", username: "a b c", email: "x@example.com", password: "correct horse battery", wantField: "username"},
		{name: "fail-at", username: "a@bc", email: "x@example.com", password: "correct horse battery", wantField: "username"},
		{name: "fail-leading-dot", username: ".abc", email: "x@example.com", password: "correct horse battery", wantField: "username"},
		{name: "fail-trailing-dash", username: "abc-", email: "x@example.com", password: "correct horse battery", wantField: "username"},
		{name: "fail-emoji", username: "ab😀", email: "x@example.com", password: "correct horse battery", wantField: "username"},
		{name: "fail-mixed-script", username: "p\u0430ypal", email: "x@example.com", password: "correct horse battery", wantField: "username"},
		{name: "fail-invalid-utf8", username: "ab\xffc", email: "x@example.com", password: "correct horse battery", wantField: "username"},
		{name: "fail-email-display-name", username: "eve1", email: "Eve <eve@example.com>", password: "correct horse battery", wantField: "email"},
		{name: "fail-email-brackets", username: "eve2", email: "<eve@example.com>", password: "correct horse battery", wantField: "email"},
		{name: "fail-email-no-at", username: "eve3", email: "eve.example.com", password: "correct horse battery", wantField: "email"},
		{name: "fail-email-no-dot", username: "eve4", email: "eve@localhost", password: "correct horse battery", wantField: "email"},
		{name: "fail-email-too-long", username: "eve5", email: strings.Repeat("e", 245) + "@example.com", password: "correct horse battery", wantField: "email"},
		{name: "fail-password-short", username: "frank", email: "frank@example.com", password: "s3cr3t!", wantField: "password"},
		{name: "fail-password-common", username: "frank", email: "frank@example.com", password: "baseball", wantField: "password"},
		{name: "fail-password-common-case", username: "frank", email: "frank@example.com", password: "PassWord1", wantField: "password"},
		{name: "fail-password-common-fullwidth", username: "frank", email: "frank@example.com", password: "ｐａｓｓｗｏｒｄ１", wantField: "password"},
		{name: "fail-password-is-username", username: "frankfurter", email: "frank@example.com", password: "FrankFurter", wantField: "password"},
		{name: "fail-password-is-email", username: "frank", email: "frank@example.com", password: "Frank@Example.com", wantField: "password"},
		{name: "fail-password-too-many-bytes", username: "frank", email: "frank@example.com", password: strings.Repeat("x", 1025), wantField: "password"},
		{name: "fail-password-invalid-utf8", username: "frank", email: "frank@example.com", password: "abcdefgh\xff", wantField: "password"},
		// Seven characters of which the accented one is two runes when
		// decomposed: counted after NFC, it is 7, too short.
		{name: "fail-password-nfc-count", username: "frank", email: "frank@example.com", password: "cafe\u0301xyz", wantField: "password"},
		{name: "ok-password-1024-bytes", username: "grace", email: "grace@example.com", password: strings.Repeat("y", 1024)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := u.Register(context.Background(), tt.username, tt.email, tt.password)
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("Register(%q, %q) = %v; want success", tt.username, tt.email, err)
				}
				return
			}
			var ve *problem.ValidationError
			if !errors.As(err, &ve) || ve.Field != tt.wantField {
				t.Fatalf("Register(%q, %q) = %v; want *problem.ValidationError on %s", tt.username, tt.email, err, tt.wantField)
			}
		})
	}
}

func TestCommonPasswordList(t *testing.T) {
	set := commonPasswords()
	if len(set) < 1000 {
		t.Fatalf("common password list has %d entries; want at least 1000", len(set))
	}
	for _, p := range []string{"123456", "password", "qwerty", "iloveyou", "trustno1", "baseball", "sunshine"} {
		if _, ok := set[passwordFold(p)]; !ok {
			t.Errorf("common password list lacks %q", p)
		}
	}
}

func TestRegistrationClosed(t *testing.T) {
	for name, newURL := range testenv.Databases() {
		t.Run(name, func(t *testing.T) {
			u := newTestUsers(t, openAccountsDB(t, newURL(t)), Config{Registration: registrationClosed})
			ctx := context.Background()
			if _, err := u.Register(ctx, "mallory", "m@example.com", "correct horse battery"); !errors.Is(err, problem.ErrRegistrationClosed) {
				t.Errorf("Register with registration closed = %v; want problem.ErrRegistrationClosed", err)
			}
			got, err := u.Create(ctx, NewUser{Username: "admin", Email: "admin@example.com", Password: "correct horse battery", Roles: []string{"admin", "ops", "admin"}})
			if err != nil {
				t.Fatalf("Create with registration closed = %v; want success", err)
			}
			if want := []string{"admin", "ops"}; !slices.Equal(got.Roles, want) {
				t.Errorf("Create(...).Roles = %v; want %v", got.Roles, want)
			}
		})
	}
}

func TestAuthenticate(t *testing.T) {
	for name, newURL := range testenv.Databases() {
		t.Run(name, func(t *testing.T) {
			u := newTestUsers(t, openAccountsDB(t, newURL(t)), Config{})
			ctx := context.Background()
			const pw = "correct horse battery"
			alice := mustRegister(t, u, "Alice", "alice@example.com", pw)

			check := func(t *testing.T, username, password string, wantErr error) {
				t.Helper()
				got, err := u.Authenticate(ctx, username, password)
				if !errors.Is(err, wantErr) {
					t.Fatalf("Authenticate(%q, %q) = %v; want %v", username, password, err, wantErr)
				}
				if wantErr == nil && got.ID != alice.ID {
					t.Fatalf("Authenticate(%q) = user %d; want %d", username, got.ID, alice.ID)
				}
			}
			check(t, "Alice", pw, nil)
			check(t, "ａｌｉｃｅ", pw, nil)
			check(t, "Alice", pw+"!", problem.ErrInvalidCredentials)
			check(t, "Alice", "", problem.ErrInvalidCredentials)
			check(t, "nobody", pw, problem.ErrInvalidCredentials)
			check(t, strings.Repeat("x", 5000), pw, problem.ErrInvalidCredentials)

			if _, err := u.SetActive(ctx, "alice", false); err != nil {
				t.Fatal(err)
			}
			// Disabled is told only to someone who knows the password.
			check(t, "Alice", pw, problem.ErrUserDisabled)
			check(t, "Alice", "wrong password!", problem.ErrInvalidCredentials)
			if got, err := u.SetActive(ctx, "ALICE", true); err != nil || !got.IsActive {
				t.Fatalf("SetActive(true) = %+v, %v; want active", got, err)
			}
			check(t, "Alice", pw, nil)
			if _, err := u.SetActive(ctx, "nobody", true); !errors.Is(err, problem.ErrNotFound) {
				t.Errorf("SetActive(nobody) = %v; want problem.ErrNotFound", err)
			}
		})
	}
}

// New hashes do not truncate at 72 bytes: two passwords that share their
// first 72 bytes are two passwords. Long emoji passwords work.
func TestPasswordBeyond72Bytes(t *testing.T) {
	for name, newURL := range testenv.Databases() {
		t.Run(name, func(t *testing.T) {
			u := newTestUsers(t, openAccountsDB(t, newURL(t)), Config{})
			ctx := context.Background()
			prefix := strings.Repeat("p", 72)
			mustRegister(t, u, "longpw", "long@example.com", prefix+"-one")
			if _, err := u.Authenticate(ctx, "longpw", prefix+"-one"); err != nil {
				t.Errorf("Authenticate(right 76-byte password) = %v; want success", err)
			}
			if _, err := u.Authenticate(ctx, "longpw", prefix+"-two"); !errors.Is(err, problem.ErrInvalidCredentials) {
				t.Errorf("Authenticate(password differing after byte 72) = %v; want problem.ErrInvalidCredentials", err)
			}
			if _, err := u.Authenticate(ctx, "longpw", prefix); !errors.Is(err, problem.ErrInvalidCredentials) {
				t.Errorf("Authenticate(72-byte prefix) = %v; want problem.ErrInvalidCredentials", err)
			}

			emoji := strings.Repeat("🔐", 64) // 256 bytes
			if len(emoji) != 256 {
				t.Fatalf("test password is %d bytes; want 256", len(emoji))
			}
			mustRegister(t, u, "emoji", "emoji@example.com", emoji)
			if _, err := u.Authenticate(ctx, "emoji", emoji); err != nil {
				t.Errorf("Authenticate(64 emoji) = %v; want success", err)
			}
			if _, err := u.Authenticate(ctx, "emoji", strings.Repeat("🔐", 63)+"🔑"); !errors.Is(err, problem.ErrInvalidCredentials) {
				t.Errorf("Authenticate(64 emoji, last one different) = %v; want problem.ErrInvalidCredentials", err)
			}
		})
	}
}

func TestSetRoles(t *testing.T) {
	for name, newURL := range testenv.Databases() {
		t.Run(name, func(t *testing.T) {
			u := newTestUsers(t, openAccountsDB(t, newURL(t)), Config{})
			ctx := context.Background()
			alice := mustRegister(t, u, "alice", "alice@example.com", "correct horse battery")
			tests := []struct {
				name    string
				roles   []string
				want    []string
				wantErr bool
			}{
				{name: "ok-sorted-deduplicated", roles: []string{"ops", "admin", "ops"}, want: []string{"admin", "ops"}},
				{name: "ok-punctuation", roles: []string{"team:billing", "read-only", "v1.2_x"}, want: []string{"read-only", "team:billing", "v1.2_x"}},
				{name: "ok-none", roles: nil, want: []string{}},
				{name: "fail-comma", roles: []string{"a,b"}, wantErr: true},
				{name: "fail-space", roles: []string{"a b"}, wantErr: true},
				{name: "fail-empty", roles: []string{""}, wantErr: true},
				{name: "fail-non-ascii", roles: []string{"админ"}, wantErr: true},
				{name: "fail-long", roles: []string{strings.Repeat("r", 65)}, wantErr: true},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					got, err := u.SetRoles(ctx, "Alice", tt.roles)
					if tt.wantErr {
						var ve *problem.ValidationError
						if !errors.As(err, &ve) || ve.Field != "roles" {
							t.Fatalf("SetRoles(%q) = %v; want *problem.ValidationError on roles", tt.roles, err)
						}
						return
					}
					if err != nil {
						t.Fatalf("SetRoles(%q) = %v", tt.roles, err)
					}
					stored, err := u.Get(ctx, alice.ID)
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(got.Roles, tt.want) || !slices.Equal(stored.Roles, tt.want) {
						t.Errorf("SetRoles(%q) = %q, stored %q; want %q", tt.roles, got.Roles, stored.Roles, tt.want)
					}
				})
			}
			if _, err := u.SetRoles(ctx, "nobody", []string{"x"}); !errors.Is(err, problem.ErrNotFound) {
				t.Errorf("SetRoles(nobody) = %v; want problem.ErrNotFound", err)
			}
		})
	}
}

func TestSetPassword(t *testing.T) {
	for name, newURL := range testenv.Databases() {
		t.Run(name, func(t *testing.T) {
			u := newTestUsers(t, openAccountsDB(t, newURL(t)), Config{})
			now, _ := accountsClock(time.Date(2030, 5, 6, 7, 8, 9, 123456789, time.UTC))
			u.now = now
			ctx := context.Background()
			alice := mustRegister(t, u, "alice", "alice@example.com", "correct horse battery")
			if !alice.PasswordChangedAt.IsZero() {
				t.Errorf("new user PasswordChangedAt = %v; want zero", alice.PasswordChangedAt)
			}
			if !alice.CreatedAt.Equal(storedTime(now())) {
				t.Errorf("CreatedAt = %v; want %v", alice.CreatedAt, storedTime(now()))
			}
			var ve *problem.ValidationError
			if _, err := u.SetPassword(ctx, "alice", "alice@example.com"); !errors.As(err, &ve) {
				t.Errorf("SetPassword(email as password) = %v; want *problem.ValidationError", err)
			}
			got, err := u.SetPassword(ctx, "ALICE", "a new staple battery")
			if err != nil {
				t.Fatal(err)
			}
			want := time.Date(2030, 5, 6, 7, 8, 9, 123456000, time.UTC)
			if !got.PasswordChangedAt.Equal(want) {
				t.Errorf("SetPassword().PasswordChangedAt = %v; want %v", got.PasswordChangedAt, want)
			}
			stored, err := u.Get(ctx, alice.ID)
			if err != nil || !stored.PasswordChangedAt.Equal(want) || !stored.CreatedAt.Equal(alice.CreatedAt) {
				t.Errorf("Get() after SetPassword = %+v, %v; want PasswordChangedAt %v", stored, err, want)
			}
			if _, err := u.Authenticate(ctx, "alice", "correct horse battery"); !errors.Is(err, problem.ErrInvalidCredentials) {
				t.Errorf("Authenticate(old password) = %v; want problem.ErrInvalidCredentials", err)
			}
			if _, err := u.Authenticate(ctx, "alice", "a new staple battery"); err != nil {
				t.Errorf("Authenticate(new password) = %v; want success", err)
			}
			if _, err := u.SetPassword(ctx, "nobody", "a new staple battery"); !errors.Is(err, problem.ErrNotFound) {
				t.Errorf("SetPassword(nobody) = %v; want problem.ErrNotFound", err)
			}
		})
	}
}
