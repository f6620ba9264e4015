// Package conftest checks a config section's Validate the same way in
// every package that owns a section: from a complete, valid section, one
// change at a time, each answered by exactly one problem at the key path
// it names (or by none). Test support only: no layered package may import
// it.
package conftest

import (
	"strings"
	"testing"
)

// A Case changes one thing in a valid section.
type Case[C any] struct {
	Name     string
	Mutate   func(c *C)
	WantPath string // the one problem's key path, e.g. "redis.url"; "" = valid
}

// Validate runs every case on a fresh valid() section through validate.
func Validate[C any](t *testing.T, valid func() C, validate func(C) error, cases []Case[C]) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.Name, func(t *testing.T) {
			c := valid()
			tt.Mutate(&c)
			err := validate(c)
			if tt.WantPath == "" {
				if err != nil {
					t.Fatalf("Validate() = %v; want nil", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.WantPath+": ") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("Validate() = %v; want one problem at %s", err, tt.WantPath)
			}
		})
	}
}

// NeverEchoes fails unless err is a problem and its text leaves secret
// out: problem messages end up in logs and CI output.
func NeverEchoes(t *testing.T, err error, secret string) {
	t.Helper()
	if err == nil {
		t.Fatal("Validate() = nil; want problems")
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("Validate() = %q repeats %q", err, secret)
	}
}
