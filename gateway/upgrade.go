package gateway

import (
	"net/http"
	"net/textproto"
	"slices"
	"strings"

	"github.com/authgate/authgate/internal/problem"
)

// checkUpgrade refuses a request whose Upgrade header names anything but
// exactly one of the protocols in allowed (lower case; compared ignoring
// case, as RFC 6455 §4.2.1 says websocket is). It looks at Upgrade
// whether or not Connection lists "upgrade": a request that names a
// protocol it may not have is refused, not quietly cleaned. A request
// without Upgrade — nearly all of them — costs one map lookup.
func checkUpgrade(h http.Header, allowed []string) error {
	vals, ok := h["Upgrade"]
	if !ok {
		return nil
	}
	n := 0
	for _, v := range vals {
		for part := range strings.SplitSeq(v, ",") {
			p := textproto.TrimString(part)
			if p == "" {
				continue // RFC 9110 §5.6.1: empty list elements do not count
			}
			// One protocol at a time: ReverseProxy passes the whole list
			// on, and the upstream could pick one the route does not allow.
			if n++; n > 1 || !containsFold(allowed, p) {
				return problem.ErrUpgradeRefused
			}
		}
	}
	if n == 0 {
		return problem.ErrUpgradeRefused // "Upgrade:" naming nothing
	}
	return nil
}

// opensTunnel reports whether upgrades lists a protocol besides
// websocket: after its 101 the gateway copies bytes and checks nothing,
// so with h2c a client could send any requests, with headers of its
// choosing, over one handshake. The startup log warns about such routes.
func opensTunnel(upgrades []string) bool {
	return slices.ContainsFunc(upgrades, func(u string) bool { return u != "websocket" })
}

func isUpgrade(r *http.Request) bool {
	return r.Header.Get("Upgrade") != "" && headerHasToken(r.Header, "Connection", "upgrade")
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}
