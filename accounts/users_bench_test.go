package accounts

import (
	"context"
	"errors"
	"testing"

	"github.com/authgate/authgate/internal/problem"
	"github.com/authgate/authgate/internal/testenv"
)

// The two ways a login fails must cost the same, so that timing does not
// reveal which usernames exist. Compare the medians of
//
//	go test -run '^$' -bench 'BenchmarkLogin' -benchtime 10x -count 5 ./authn/
//
// (they should be within a few percent; both are one lookup and one bcrypt
// verification at the default cost). Benchmarks, not a test: tests never
// assert on timing.
func benchmarkLogin(b *testing.B, username string) {
	db := openAccountsDB(b, testenv.SQLiteURL(b))
	ctx := context.Background()
	u, err := NewUsers(ctx, db, defaulted(Config{})) // defaults: bcrypt cost 12
	if err != nil {
		b.Fatal(err)
	}
	mustRegister(b, u, "alice", "alice@example.com", "correct horse battery")
	for b.Loop() {
		if _, err := u.Authenticate(ctx, username, "wrong horse battery"); !errors.Is(err, problem.ErrInvalidCredentials) {
			b.Fatalf("Authenticate(%q, wrong) = %v; want problem.ErrInvalidCredentials", username, err)
		}
	}
}

func BenchmarkLoginUnknownUser(b *testing.B)   { benchmarkLogin(b, "mallory") }
func BenchmarkLoginWrongPassword(b *testing.B) { benchmarkLogin(b, "alice") }
