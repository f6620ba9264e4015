package provider

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testenv"
)

func TestMemoryCodes(t *testing.T) {
	ctx := t.Context()
	clock := &testenv.OffsetClock{}
	m := NewMemoryCodes(time.Minute)
	m.now = clock.Now
	if err := m.Save(ctx, "h1", AuthCode{ClientID: "c", Scopes: []string{"openid"}, Expires: clock.Now().Add(codeTTL)}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Redeem(ctx, "nope"); !errors.Is(err, ErrCodeNotFound) {
		t.Fatalf("Redeem(unknown) = %v; want ErrCodeNotFound", err)
	}
	c, err := m.Redeem(ctx, "h1")
	if err != nil || c.ClientID != "c" {
		t.Fatalf("Redeem = %+v, %v; want the code", c, err)
	}
	if err := m.Issued(ctx, "h1", "s1"); err != nil {
		t.Fatalf("Issued = %v", err)
	}
	c, err = m.Redeem(ctx, "h1")
	if !errors.Is(err, ErrCodeReused) || c == nil || c.SessionID != "s1" {
		t.Fatalf("second Redeem = %+v, %v; want ErrCodeReused naming session s1", c, err)
	}

	// Reused while the first redemption was issuing: Issued says so.
	m.Save(ctx, "h2", AuthCode{Expires: clock.Now().Add(codeTTL)})
	m.Redeem(ctx, "h2")
	m.Redeem(ctx, "h2")
	if err := m.Issued(ctx, "h2", "s2"); !errors.Is(err, ErrCodeReused) {
		t.Fatalf("Issued after a concurrent reuse = %v; want ErrCodeReused", err)
	}

	// Forgotten only a retention period after expiry.
	clock.Advance(codeTTL + 2*time.Minute)
	m.Save(ctx, "h3", AuthCode{Expires: clock.Now().Add(codeTTL)})
	if _, err := m.Redeem(ctx, "h1"); !errors.Is(err, ErrCodeNotFound) {
		t.Fatalf("Redeem of a code past retention = %v; want ErrCodeNotFound", err)
	}
}

// TestMemoryCodesOneWinner: of concurrent redemptions, exactly one gets
// the code.
func TestMemoryCodesOneWinner(t *testing.T) {
	ctx := t.Context()
	m := NewMemoryCodes(time.Minute)
	m.Save(ctx, "h", AuthCode{Expires: time.Now().Add(codeTTL)})
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 16 {
		wg.Go(func() {
			if _, err := m.Redeem(ctx, "h"); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d redemptions succeeded; want exactly 1", wins)
	}
}
