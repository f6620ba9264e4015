package authn

import (
	"testing"

	"github.com/authgate/authgate/identity"
	"github.com/authgate/authgate/internal/testenv"
)

// testRedis returns the shared test Redis's URL and a key prefix of this
// test's own; every key under the prefix is deleted when the test ends.
func testRedis(t *testing.T) (url, prefix string) {
	t.Helper()
	return testenv.RedisURL(t)
}

// mustVerify verifies an access token's signature and claims.
func mustVerify(t *testing.T, s *Service, tok string) *identity.Identity {
	t.Helper()
	id, err := s.tokens.Verify(tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return id
}
