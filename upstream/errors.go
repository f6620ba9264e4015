package upstream

import "errors"

// The errors the proxy hands to Options.ErrorWriter. gateway/errors.go is
// the one place that maps them to HTTP statuses; nothing here picks a status.
//
// Every error passed to ErrorWriter wraps exactly one of these, with two
// exceptions that are not the upstream's fault: a client that went away
// (wraps context.Canceled) and a client whose request body could not be read
// (wraps the read error, e.g. *http.MaxBytesError).
var (
	// ErrNoHealthyTarget: every target of the pool is unhealthy or ejected. 502.
	ErrNoHealthyTarget = errors.New("no healthy upstream target")
	// ErrUpstreamTimeout: the upstream did not send response headers within
	// the pool's timeout, or the request's deadline passed. 504.
	ErrUpstreamTimeout = errors.New("upstream timed out")
	// ErrUpstreamUnavailable: the connection to the upstream failed (refused,
	// reset, closed before a response) or its answer was unusable. 502.
	ErrUpstreamUnavailable = errors.New("upstream unavailable")
)

// errNoForward means a request reached a proxy handler without the Forward
// the gateway must attach. It is a wiring bug: the handler refuses the
// request rather than guess a path or a client address.
var errNoForward = errors.New("upstream: request carries no Forward with an absolute path")
