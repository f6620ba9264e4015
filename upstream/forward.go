package upstream

import (
	"net/netip"

	"github.com/authgate/authgate/identity"
)

// Forward is what the gateway decided about a request before handing it to
// the proxy (Proxy.Serve). The proxy trusts it completely and the client
// not at all: it never derives a path, client address or identity from the
// request itself.
type Forward struct {
	// Path is the canonical, decoded path the route decision was made on,
	// minus the route's prefix when it strips it (the gateway's
	// Route.UpstreamPath): the upstream receives exactly this, escaped
	// once. It must start with "/".
	Path string
	// ClientIP is the client's address as the gateway established it: the
	// TCP peer, or, when the peer is a trusted proxy, from the forwarded
	// chain. When invalid, the TCP peer is used.
	ClientIP netip.Addr
	// TrustedPeer reports that the TCP peer is in trusted_proxies: the
	// client's X-Forwarded-*, Forwarded and X-Real-IP headers are kept and
	// the peer is appended to X-Forwarded-For.
	TrustedPeer bool
	// Proto is the scheme the client used, sent as X-Forwarded-Proto.
	// Empty: derived from the connection (TLS or not).
	Proto string
	// Host is the host[:port] the route decision was made on, normalised
	// (gateway.ParseHost), sent as X-Forwarded-Host. Empty: none is sent.
	// The request's own Host header is never forwarded in its place.
	Host string
	// Identity is the verified identity, nil on public routes.
	Identity *identity.Identity
	// Assertion is the signed JWT for identity_headers.assertion; "" when
	// that header is off or the route is public.
	Assertion string
	// RequestID is sent upstream as X-Request-Id; "" sends none. The
	// caller answers the client with it: an upstream's echo of it is
	// dropped from the response.
	RequestID string
}
