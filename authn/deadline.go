package authn

import (
	"context"
	"errors"
	"net/http"
	"os"
	"time"
)

// Bounds on how long one client may hold the account API.

// withDeadlines bounds every request of the account API:
//
//   - its context ends after Options.RequestTimeout (database.timeout):
//     the store, Redis and the
//     throttle honour it, and a database that stops answering costs a
//     client a 503, not a hang (see store's pgConnector for why that
//     needs more than a context);
//   - its body must arrive within Options.BodyTimeout. The gateway leaves
//     http.Server's ReadTimeout at 0 so that proxied uploads and streams
//     are not cut off; without this, a client sending a login body one
//     byte at a time would hold a goroutine and a connection for as long
//     as it liked. readBody lifts the deadline once the body is in; a
//     request whose body is never read keeps it, so net/http's draining
//     of the unread body after the answer is bounded too. A request
//     without a body gets none: net/http is already watching its
//     connection for the client going away, and a deadline would end
//     that watch.
//
// A zero bound is no bound.
func (s *Service) withDeadlines(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.bodyTimeout > 0 && r.Body != nil && r.Body != http.NoBody {
			// Ignored where unsupported (a ResponseWriter that cannot
			// reach its connection): the body is still size-capped.
			http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.bodyTimeout))
		}
		if s.requestTimeout > 0 {
			ctx, cancel := context.WithTimeout(r.Context(), s.requestTimeout)
			defer cancel()
			r = r.WithContext(ctx)
		}
		next.ServeHTTP(w, r)
	})
}

// liftReadDeadline ends the bound withDeadlines put on reading the body,
// once the body is in.
func liftReadDeadline(w http.ResponseWriter) {
	http.NewResponseController(w).SetReadDeadline(time.Time{})
}

// isReadTimeout reports whether err is a body read cut off by the
// deadline withDeadlines set.
func isReadTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }
