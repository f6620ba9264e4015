package authn

import (
	"context"
	"errors"
	"net/http"
	"os"
	"time"
)

// Bounds on how long one client may hold the account API.

// defaultStoreTimeout is database.timeout's default: how long one account
// operation may take before it answers 503.
const defaultStoreTimeout = 5 * time.Second

// bodyReadTimeout bounds reading one request body of the account API
// (at most maxBodyBytes). The gateway leaves http.Server's ReadTimeout at
// 0 so that proxied uploads and streams are not cut off; without this, a
// client sending a login body one byte at a time would hold a goroutine
// and a connection for as long as it liked.
const bodyReadTimeout = 10 * time.Second

// ErrRequestTimeout is a request body that did not arrive within
// bodyReadTimeout (408).
var ErrRequestTimeout = errors.New("request body not received in time")

// withStoreDeadline gives every request of the account API a context that
// ends after database.timeout: the store, Redis and the throttle honour
// it, and a database that stops answering costs a client a 503, not a
// hang (see pgConnector for why that needs more than a context).
func (s *Service) withStoreDeadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), s.storeTimeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// storeContext is ctx bounded by database.timeout, for account operations
// made outside the account API (the in-place refresh of a protected
// route).
func (s *Service) storeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.storeTimeout)
}

// readDeadline bounds reading r's body by bodyReadTimeout and returns the
// function that lifts the bound again. A request without a body is left
// alone: net/http is already watching its connection for the client going
// away, and a deadline would end that watch.
func readDeadline(w http.ResponseWriter, r *http.Request) func() {
	if r.Body == nil || r.Body == http.NoBody {
		return func() {}
	}
	rc := http.NewResponseController(w)
	if rc.SetReadDeadline(time.Now().Add(bodyReadTimeout)) != nil {
		return func() {} // not supported by this ResponseWriter
	}
	return func() { rc.SetReadDeadline(time.Time{}) }
}

// isReadTimeout reports whether err is a body read cut off by
// readDeadline.
func isReadTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }
