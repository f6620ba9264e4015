package testenv

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// TestOriginalClient runs the unchanged client script against the real
// original: the proof that the script is a faithful client of it, before
// issue 12 points the same script at authgate.
func TestOriginalClient(t *testing.T) {
	t.Parallel()
	o := StartOriginal(t, OriginalOptions{DatabaseURL: PostgresURL(t)})
	t.Log(RunOriginalClient(t, o.URL))
}

// TestOriginalClientFailsOnADifferentServer: the script is not a rubber
// stamp. authgate's own API answers a duplicate with 409 where the
// original says 400; a server that does so must fail it.
func TestOriginalClientFailsOnADifferentServer(t *testing.T) {
	t.Parallel()
	registered := map[string]bool{}
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var u struct{ Username, Email string }
		json.NewDecoder(r.Body).Decode(&u)
		mu.Lock()
		dup := registered[u.Username]
		registered[u.Username] = true
		mu.Unlock()
		switch {
		case r.URL.Path != "/register":
			http.NotFound(w, r)
		case dup:
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusConflict)
			w.Write([]byte(`{"type":"about:blank","title":"Conflict","status":409,"detail":"Username already registered"}`))
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			json.NewEncoder(w).Encode(map[string]any{"id": 1, "username": u.Username, "email": u.Email, "is_active": true})
		}
	}))
	t.Cleanup(srv.Close)
	out, err := originalClientCmd(t, srv.URL).CombinedOutput()
	if err == nil {
		t.Fatalf("the client passed a server that answers 409 to a duplicate registration:\n%s", out)
	}
	if !bytes.Contains(out, []byte("register the same username again: want status 400; got 409")) {
		t.Errorf("the client's report does not name the failed check:\n%s", out)
	}
}
