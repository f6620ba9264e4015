package federation

import (
	"strings"
	"testing"
)

func TestTokenCipher(t *testing.T) {
	c, err := NewTokenCipher(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	const row = "https://sso.example.com\x00user-1"
	sealed, err := c.Seal("provider-refresh-token", row)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "provider-refresh-token") || !strings.HasPrefix(sealed, "v1.") {
		t.Fatalf("Seal = %q; want v1. and no plaintext", sealed)
	}
	if again, _ := c.Seal("provider-refresh-token", row); again == sealed {
		t.Errorf("two seals of one value are equal: the nonce is not fresh")
	}
	if got, err := c.Open(sealed, row); err != nil || got != "provider-refresh-token" {
		t.Fatalf("Open = %q, %v", got, err)
	}

	otherSecret, _ := NewTokenCipher([]byte(strings.Repeat("x", 31) + "y"))
	flowKeyed, _ := newCipher(testSecret, LabelFlowCookie)
	flip := []byte(sealed)
	flip[len(flip)-5] ^= 1
	tests := []struct {
		name   string
		c      *TokenCipher
		sealed string
		row    string
	}{
		{"fail-other-row", c, sealed, "https://sso.example.com\x00user-2"},
		{"fail-other-secret", otherSecret, sealed, row},
		{"fail-other-label", flowKeyed, sealed, row},
		{"fail-flipped-bit", c, string(flip), row},
		{"fail-truncated", c, sealed[:20], row},
		{"fail-no-version", c, strings.TrimPrefix(sealed, "v1."), row},
		{"fail-empty", c, "", row},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.c.Open(tt.sealed, tt.row)
			wantErr(t, "Open", err, ErrSealed)
		})
	}
	if _, err := NewTokenCipher(make([]byte, MinSecretLen-1)); err == nil {
		t.Errorf("NewTokenCipher accepted a %d-byte secret", MinSecretLen-1)
	}
}
