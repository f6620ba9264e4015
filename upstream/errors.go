package upstream

import "errors"

// The proxy hands Options.ErrorWriter errors that wrap one of
// internal/problem's ErrNoHealthyTarget, ErrUpstreamTimeout or
// ErrUpstreamUnavailable, with two exceptions that are not the upstream's
// fault: a client that went away (wraps context.Canceled) and a client
// whose request body could not be read (wraps the read error, e.g.
// *http.MaxBytesError). internal/problem answers them; nothing here picks
// a status.

// errNoForward means a request reached a proxy handler without the Forward
// the gateway must attach. It is a wiring bug: the handler refuses the
// request rather than guess a path or a client address.
var errNoForward = errors.New("upstream: request carries no Forward with an absolute path")
