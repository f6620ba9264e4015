package tokens

import (
	"strings"
	"testing"
)

func TestWellKnownSecret(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{name: "ok-fastapi-tutorial", in: "09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7", want: true},
		{name: "ok-jwt-io", in: "your-256-bit-secret", want: true},
		{name: "ok-jwt-io-new", in: "a-string-secret-at-least-256-bits-long", want: true},
		{name: "ok-case-and-space", in: "  ChangeMe ", want: true},
		{name: "ok-secret", in: "SECRET", want: true},
		{name: "ok-repeated", in: strings.Repeat("0", 64), want: true},
		{name: "ok-random", in: "q3J8vX0nW2rT5yL9kP1mZ7cB4dF6hG0s", want: false},
		{name: "ok-empty", in: "", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := WellKnownSecret(tt.in); got != tt.want {
				t.Errorf("WellKnownSecret(%q) = %v; want %v", tt.in, got, tt.want)
			}
		})
	}
}
