package accounts

import (
	"context"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestPasswordHasher(t *testing.T) {
	h, err := newPasswordHasher(bcrypt.MinCost, false)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("z", 72)
	tests := []struct {
		name       string
		stored     string // password to hash now
		login      string
		want       bool
		wantRehash bool
	}{
		{name: "ok-same", stored: "correct horse battery", login: "correct horse battery", want: true},
		{name: "ok-nfc-equivalent", stored: "caf\u00e9 au lait", login: "cafe\u0301 au lait", want: true},
		{name: "ok-long", stored: long + "tail", login: long + "tail", want: true},
		{name: "fail-case", stored: "correct horse battery", login: "Correct horse battery"},
		{name: "fail-after-byte-72", stored: long + "tail", login: long + "tale"},
		{name: "fail-72-prefix", stored: long + "tail", login: long},
		{name: "fail-empty", stored: "correct horse battery", login: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stored, err := h.hash(context.Background(), tt.stored)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(stored, hmacBcryptScheme+"$2a$04$") {
				t.Fatalf("hash(%q) = %.40q…; want the %s scheme at cost 4", tt.stored, stored, hmacBcryptScheme)
			}
			ok, rehash, err := h.verify(context.Background(), stored, tt.login)
			if err != nil || ok != tt.want || rehash != tt.wantRehash {
				t.Errorf("verify(hash(%q), %q) = %v, %v; want %v, %v", tt.stored, tt.login, ok, rehash, tt.want, tt.wantRehash)
			}
		})
	}
	// The scheme's inner bcrypt is over the pre-hash, never the password:
	// a plain bcrypt of the password wearing the scheme marker is refused.
	raw, _ := bcrypt.GenerateFromPassword([]byte("correct horse battery"), bcrypt.MinCost)
	if ok, _, _ := h.verify(context.Background(), hmacBcryptScheme+string(raw), "correct horse battery"); ok {
		t.Error("verify(marker + plain bcrypt) = true; want false")
	}
	if _, err := newPasswordHasher(bcrypt.MaxCost+1, false); err == nil {
		t.Error("newPasswordHasher(32) = nil error; want one")
	}
}
