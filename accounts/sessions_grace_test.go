package accounts

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/conf"
	"github.com/authgate/authgate/internal/problem"
	"github.com/authgate/authgate/internal/testenv"
)

// tokens.refresh_reuse_grace (issue 12): within the interval, the refresh
// token just rotated returns the same new refresh token and the session
// lives on; once that successor was used, or after the interval, a reuse
// revokes the session as without grace. Without the setting, a second use
// revokes at once (the default is unchanged).
func TestRefreshReuseGrace(t *testing.T) {
	for name, newURL := range testenv.Databases() {
		t.Run(name, func(t *testing.T) {
			clock := &testenv.OffsetClock{}
			cfg := testSections(newURL(t))
			cfg.Tokens.RefreshReuseGrace = conf.Duration(30 * time.Second)
			s := newTestServiceAt(t, cfg, clock.Now, nil)
			ctx := context.Background()
			if _, err := s.Register(ctx, "grace", "grace@example.com", "correct horse battery", "192.0.2.1"); err != nil {
				t.Fatal(err)
			}
			login := func() *TokenPair {
				t.Helper()
				p, err := s.Login(ctx, "grace", "correct horse battery", "192.0.2.1")
				if err != nil {
					t.Fatal(err)
				}
				return p
			}

			p := login()
			first, err := s.Refresh(ctx, p.RefreshToken)
			if err != nil {
				t.Fatal(err)
			}
			again, err := s.Refresh(ctx, p.RefreshToken)
			if err != nil || again.RefreshToken != first.RefreshToken {
				t.Fatalf("Refresh(the token just rotated) within grace = %v, same refresh token %v; want the same new pair", err, err == nil && again.RefreshToken == first.RefreshToken)
			}
			next, err := s.Refresh(ctx, first.RefreshToken)
			if err != nil {
				t.Fatalf("Refresh(the successor) after a grace answer = %v; want the session alive", err)
			}
			if _, err := s.Refresh(ctx, p.RefreshToken); !errors.Is(err, problem.ErrRefreshReused) {
				t.Errorf("Refresh(a token whose successor was used) = %v; want problem.ErrRefreshReused", err)
			}
			if _, err := s.Refresh(ctx, next.RefreshToken); err == nil {
				t.Errorf("the session outlived a reuse outside grace")
			}

			p = login()
			first, err = s.Refresh(ctx, p.RefreshToken)
			if err != nil {
				t.Fatal(err)
			}
			clock.Advance(31 * time.Second)
			if _, err := s.Refresh(ctx, p.RefreshToken); !errors.Is(err, problem.ErrRefreshReused) {
				t.Errorf("Refresh(the token rotated 31 s ago, grace 30 s) = %v; want problem.ErrRefreshReused", err)
			}
			if _, err := s.Refresh(ctx, first.RefreshToken); err == nil {
				t.Errorf("the session outlived a reuse after the grace interval")
			}
		})
	}
}
