package gateway

import (
	"errors"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
)

// errUpgradeRefused: the request asks to switch to a protocol its route
// does not allow (routes[].upgrades). Answered 400.
//
// RFC 9110 §7.8 lets a server that will not switch ignore Upgrade and
// answer in HTTP/1.1, but then the request would go upstream still
// carrying it, and an upstream that switches anyway opens a tunnel the
// gateway can only copy bytes through: that is how "Upgrade: h2c" carried
// HTTP/2 requests with forged identity headers past every check. So the
// request is refused instead, and as a client error (§15.5.1: the server
// will not process it as sent). Not 426 Upgrade Required (§15.5.22),
// which asks the client to switch to a protocol the server names, nor 501
// (§15.6.2), which says the server cannot do what was asked anywhere —
// websocket works on every route that has not opted out of it.
var errUpgradeRefused = errors.New("upgrade refused")

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
				return errUpgradeRefused
			}
		}
	}
	if n == 0 {
		return errUpgradeRefused // "Upgrade:" naming nothing
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

// sameOrigin reports whether the request's Origin names the host it was
// sent to.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return false
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" {
		return false
	}
	return strings.EqualFold(u.Host, r.Host)
}
