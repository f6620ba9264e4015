package upstream

import (
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
	"strings"
)

// headerPlan is everything the proxy does to request and response headers,
// resolved once at construction: which client-sent headers never pass, and
// the canonical names of the ones it sets.
type headerPlan struct {
	userID, username, email, roles, assertion string // canonical names; "" = off
	// The companions of username, email and roles (name + "-Encoded"),
	// sent only with a value that is not all visible ASCII (encoded.go).
	usernameEnc, emailEnc, rolesEnc string
	rules                           []headerRule
	cookies                         []string // the gateway's cookie names
}

// headerRule matches a header name ignoring case and treating "_" as "-":
// CGI-style servers (PHP, WSGI, Rack) fold both into HTTP_X_AUTH_USER, so
// X_Auth_User is X-Auth-User to them. Go keeps names containing "_" as
// sent, so every key of the map has to be compared.
type headerRule struct {
	name   string // lower case, with "-"
	prefix bool   // matches every name that starts with name
	keep   keepWhen
}

type keepWhen uint8

const (
	keepNever   keepWhen = iota // identity, method overrides, X-Request-Id: always ours or nobody's
	keepTrusted                 // forwarding headers: kept from a trusted proxy, spelled with "-"
	keepToken                   // Authorization: kept on forward_token routes
)

// Headers the proxy always controls, besides the configured identity ones.
// RFC 7239 Forwarded and the X-Forwarded-* family say who the client is;
// X-Original-URL / X-Rewrite-URL make some frameworks (IIS, Symfony) route
// on a path other than the one the gateway checked; method overrides make
// them run a method other than the one the gateway saw.
func baseRules() []headerRule {
	return []headerRule{
		{name: "forwarded", keep: keepTrusted},
		{name: "x-forwarded-", prefix: true, keep: keepTrusted},
		{name: "x-real-ip", keep: keepTrusted},
		{name: "x-original-url", keep: keepTrusted},
		{name: "x-rewrite-url", keep: keepTrusted},
		{name: "x-http-method-override", keep: keepNever},
		{name: "x-http-method", keep: keepNever},
		{name: "x-method-override", keep: keepNever},
		{name: "x-request-id", keep: keepNever},
		{name: "authorization", keep: keepToken},
	}
}

// reservedHeader reports whether name (normalised: lower case, "-" for
// "_") may not name an identity header: HTTP gives it another meaning
// (framing, hop-by-hop, credentials, cookies), or the proxy manages it
// (baseRules: the forwarding headers, path rewrites, method overrides,
// X-Request-Id). X-Forwarded-User and the like stay free: users of
// oauth2-proxy know them. It is the one list: validation, and so both
// `authgate check` and the start, refuse what it names.
func reservedHeader(name string) bool {
	switch name {
	case "authorization", "connection", "content-length", "content-type", "cookie",
		"forwarded", "host", "keep-alive", "proxy-authenticate", "proxy-authorization",
		"proxy-connection", "set-cookie", "te", "trailer", "transfer-encoding", "upgrade",
		"x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-real-ip":
		return true
	}
	r, managed := matchRule(baseRules(), name)
	return managed && !r.prefix
}

// newHeaderPlan precomputes the plan for validated identity header names
// (Config.Validate).
func newHeaderPlan(cfg IdentityHeaders, gatewayCookies []string) *headerPlan {
	p := &headerPlan{}
	for _, c := range gatewayCookies {
		if c != "" {
			p.cookies = append(p.cookies, c)
		}
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{cfg.UserID, &p.userID},
		{cfg.Username, &p.username},
		{cfg.Email, &p.email},
		{cfg.Roles, &p.roles},
		{cfg.Assertion, &p.assertion},
	} {
		if f.name == "" {
			continue
		}
		*f.dst = http.CanonicalHeaderKey(f.name)
		p.rules = append(p.rules, headerRule{name: normalizeName(f.name), keep: keepNever})
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{cfg.Username, &p.usernameEnc},
		{cfg.Email, &p.emailEnc},
		{cfg.Roles, &p.rolesEnc},
	} {
		if f.name == "" {
			continue
		}
		*f.dst = http.CanonicalHeaderKey(f.name + encodedSuffix)
		p.rules = append(p.rules, headerRule{name: normalizeName(f.name + encodedSuffix), keep: keepNever})
	}
	// Identity rules come first so that an identity header named
	// X-Forwarded-User is never kept from a trusted proxy.
	p.rules = append(p.rules, baseRules()...)
	return p
}

// normalizeName lower-cases name and spells "_" as "-".
func normalizeName(name string) string {
	b := []byte(name)
	for i, c := range b {
		b[i] = foldHeaderByte(c)
	}
	return string(b)
}

func foldHeaderByte(c byte) byte {
	switch {
	case c == '_':
		return '-'
	case 'A' <= c && c <= 'Z':
		return c + 'a' - 'A'
	}
	return c
}

// nameHasPrefix reports whether header name k starts with want (lower
// case, "-"), ignoring case and treating "_" as "-". It allocates nothing.
func nameHasPrefix(k, want string) bool {
	if len(k) < len(want) {
		return false
	}
	for i := 0; i < len(want); i++ {
		if foldHeaderByte(k[i]) != want[i] {
			return false
		}
	}
	return true
}

func matchRule(rules []headerRule, k string) (headerRule, bool) {
	for _, r := range rules {
		if (r.prefix || len(k) == len(r.name)) && nameHasPrefix(k, r.name) {
			return r, true
		}
	}
	return headerRule{}, false
}

// scrub deletes from h every header the client may not send upstream.
func (p *headerPlan) scrub(h http.Header, trusted, forwardToken bool) {
	for k := range h {
		r, ok := matchRule(p.rules, k)
		if !ok {
			continue
		}
		// An "_" spelling is never kept: no proxy sends one, and a CGI
		// backend would take it for the real header.
		plain := strings.IndexByte(k, '_') < 0
		switch {
		case r.keep == keepTrusted && trusted && plain,
			r.keep == keepToken && forwardToken && plain:
			continue
		}
		delete(h, k) // deleting during range is allowed
	}
}

// rewrite sets out's headers from f: the client's copies of everything the
// proxy controls are gone first, then the proxy's own are set. All values
// share one backing array, so the whole rewrite allocates it once (plus
// the X-Forwarded-For string when the client is not the peer, and the
// Cookie line when it carried a gateway cookie).
func (p *headerPlan) rewrite(out, in *http.Request, f *Forward, forwardToken bool) {
	h := out.Header
	p.scrub(h, f.TrustedPeer, forwardToken)
	if len(out.Trailer) > 0 {
		p.scrub(out.Trailer, false, false)
	}
	if !forwardToken {
		p.dropGatewayCookies(h)
	}

	vals := make([]string, 0, 9)
	if id := f.Identity; id != nil {
		vals = put(h, p.userID, id.UserID, vals)
		vals = put(h, p.username, id.Username, vals)
		vals = put(h, p.email, id.Email, vals)
		vals = put(h, p.roles, id.RolesHeader(), vals)
		if p.username != "" {
			vals = putEncoded(h, p.usernameEnc, id.Username, vals)
		}
		if p.email != "" {
			vals = putEncoded(h, p.emailEnc, id.Email, vals)
		}
		if p.roles != "" {
			vals = putEncoded(h, p.rolesEnc, id.RolesHeader(), vals)
		}
	}
	vals = put(h, p.assertion, f.Assertion, vals)

	peer, _, err := net.SplitHostPort(in.RemoteAddr)
	if err != nil {
		peer = ""
	}
	xff := peer
	if f.TrustedPeer {
		// ReverseProxy removed these before Rewrite; a trusted proxy's
		// copies go on, with its own address appended.
		if fw := in.Header["Forwarded"]; len(fw) > 0 {
			h["Forwarded"] = fw[:len(fw):len(fw)]
		}
		if prior := in.Header["X-Forwarded-For"]; len(prior) > 0 {
			xff = strings.Join(prior, ", ")
			if peer != "" {
				xff += ", " + peer
			}
		}
	} else if f.ClientIP.IsValid() {
		// Usually the client is the peer: reuse the peer's text rather
		// than format the address again.
		if pa, err := netip.ParseAddr(peer); err != nil || pa != f.ClientIP {
			xff = f.ClientIP.String()
		}
	}
	vals = put(h, "X-Forwarded-For", xff, vals)
	proto := f.Proto
	if proto == "" {
		proto = "http"
		if in.TLS != nil {
			proto = "https"
		}
	}
	vals = put(h, "X-Forwarded-Proto", proto, vals)
	// Only the gateway's reading of the host, never in.Host: the raw
	// header may be a spelling the gateway refused to route on, and a
	// backend that trusts X-Forwarded-Host would serve that host.
	vals = put(h, "X-Forwarded-Host", f.Host, vals)
	put(h, "X-Request-Id", f.RequestID, vals)
}

// put sets h[name] to v in the next slot of vals, capped so that a later
// Add cannot spill into its neighbour. An empty name or value sets nothing.
func put(h http.Header, name, v string, vals []string) []string {
	if name == "" || v == "" {
		return vals
	}
	i := len(vals)
	vals = append(vals, v)
	h[name] = vals[i : i+1 : i+1]
	return vals
}

// dropGatewayCookies removes the gateway's own cookies from the Cookie
// header and leaves the application's cookies as they were.
func (p *headerPlan) dropGatewayCookies(h http.Header) {
	vals := h["Cookie"]
	if len(vals) == 0 || len(p.cookies) == 0 {
		return
	}
	kept := vals[:0] // h is the outbound request's own copy
	for _, v := range vals {
		if p.mentionsCookie(v) {
			v = p.withoutGatewayCookies(v)
		}
		if v != "" {
			kept = append(kept, v)
		}
	}
	if len(kept) == 0 {
		delete(h, "Cookie")
		return
	}
	h["Cookie"] = kept
}

func (p *headerPlan) mentionsCookie(v string) bool {
	for _, c := range p.cookies {
		if strings.Contains(v, c) {
			return true
		}
	}
	return false
}

func (p *headerPlan) isGatewayCookie(name string) bool {
	for _, c := range p.cookies {
		if name == c { // RFC 6265 §5.3: cookie names are case-sensitive
			return true
		}
	}
	return false
}

// withoutGatewayCookies rebuilds one Cookie line (RFC 6265 §4.2.1:
// "name=value; name=value") without the gateway's cookies.
func (p *headerPlan) withoutGatewayCookies(line string) string {
	var b strings.Builder
	for part := range strings.SplitSeq(line, ";") {
		part = textproto.TrimString(part)
		name, _, _ := strings.Cut(part, "=")
		if part == "" || p.isGatewayCookie(textproto.TrimString(name)) {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(part)
	}
	return b.String()
}

// dropGatewaySetCookies removes every Set-Cookie line of an upstream
// response that would set or clear one of the gateway's cookies: an
// upstream must not be able to plant or end a gateway session.
func (p *headerPlan) dropGatewaySetCookies(h http.Header) {
	vals := h["Set-Cookie"]
	if len(vals) == 0 || len(p.cookies) == 0 {
		return
	}
	kept := vals[:0] // the response's header map is ours
	for _, v := range vals {
		// RFC 6265 §5.2: the name is what precedes the first "=" of the
		// part before the first ";". A line without "=" sets a nameless
		// cookie that browsers send back as the bare value, which a
		// server parses as a cookie of that name: compare it too.
		pair, _, _ := strings.Cut(v, ";")
		name, _, _ := strings.Cut(pair, "=")
		if !p.isGatewayCookie(textproto.TrimString(name)) {
			kept = append(kept, v)
		}
	}
	if len(kept) == 0 {
		delete(h, "Set-Cookie")
		return
	}
	h["Set-Cookie"] = kept
}
