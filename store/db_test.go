package store

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/authgate/authgate/internal/testenv"
)

func TestOpenMigratesOnce(t *testing.T) {
	for name, newURL := range testenv.Databases() {
		t.Run(name, func(t *testing.T) {
			url := newURL(t)
			ctx := context.Background()
			// Two instances starting at once must apply each migration
			// exactly once and both come up.
			var wg sync.WaitGroup
			errs := make([]error, 2)
			dbs := make([]*DB, 2)
			for i := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					dbs[i], errs[i] = Open(ctx, url)
				}()
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("Open #%d: %v", i, err)
				}
				defer dbs[i].Close()
			}
			var n int
			if err := dbs[0].Get(&n, `SELECT COUNT(*) FROM schema_migrations`); err != nil {
				t.Fatal(err)
			}
			all, _ := dbs[0].migrations()
			if n != len(all) {
				t.Errorf("schema_migrations has %d rows; want %d", n, len(all))
			}
		})
	}
}

func TestOpenRejectsUnknownScheme(t *testing.T) {
	_, err := Open(context.Background(), "mysql://root:hunter2@localhost/db")
	if err == nil {
		t.Fatal("Open(mysql://…) = nil error; want one")
	}
	if got := err.Error(); contains(got, "hunter2") {
		t.Errorf("error %q leaks the password", got)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
