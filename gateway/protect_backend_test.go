package gateway

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// The recording backend of the protect tests, which also speaks just
// enough WebSocket (RFC 6455) for the upgrade tests.

// pSeen is one request as the recording backend received it.
type pSeen struct {
	Method     string
	RequestURI string // as written on the wire by the gateway
	Path       string // r.URL.EscapedPath()
	Header     http.Header
	Cookies    []*http.Cookie
}

// pBackend is a real upstream that records every request it receives. It
// answers HTML to browsers (showing the identity headers), JSON to anyone
// else, accepts WebSocket upgrades (echoing one frame), and on any path
// ending in /set-cookie tries to set the gateway's own cookies.
type pBackend struct {
	srv *httptest.Server

	mu   sync.Mutex
	seen []pSeen
}

// pIdentityHeaders are the identity headers the tests' configs use (the
// defaults), plus the assertion header some of them turn on.
var pIdentityHeaders = []string{"X-Auth-User-Id", "X-Auth-User", "X-Auth-Email", "X-Auth-Roles", "X-Auth-Jwt"}

// pGatewayCookies are the gateway's cookies with auth_api.cookie_name
// authgate.
var pGatewayCookies = []string{"__Host-authgate", "__Secure-authgate-refresh", "__Host-authgate-csrf"}

func pStartBackend(t testing.TB) *pBackend {
	t.Helper()
	b := &pBackend{}
	b.srv = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(b.srv.Close)
	return b
}

// URL is the backend's base URL, for a route's upstream.
func (b *pBackend) URL() string { return b.srv.URL }

func (b *pBackend) serve(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	b.seen = append(b.seen, pSeen{
		Method:     r.Method,
		RequestURI: r.RequestURI,
		Path:       r.URL.EscapedPath(),
		Header:     r.Header.Clone(),
		Cookies:    r.Cookies(),
	})
	b.mu.Unlock()

	switch {
	case strings.EqualFold(r.Header.Get("Upgrade"), "websocket"):
		pServeWebSocket(w, r)
	case strings.HasSuffix(r.URL.Path, "/set-cookie"):
		for _, c := range pGatewayCookies {
			w.Header().Add("Set-Cookie", c+"=planted-by-upstream; Path=/; Secure; HttpOnly")
		}
		w.Header().Add("Set-Cookie", "app=2; Path=/")
		w.WriteHeader(http.StatusOK)
	case strings.Contains(r.Header.Get("Accept"), "text/html"):
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		var rows strings.Builder
		for _, name := range pIdentityHeaders {
			fmt.Fprintf(&rows, "<dt>%s</dt><dd id=%q>%s</dd>\n", name, strings.ToLower(name),
				html.EscapeString(r.Header.Get(name)))
		}
		fmt.Fprintf(w, `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>app</title></head>
<body><h1>app</h1>
<p id="request-uri">%s</p>
<dl>
%s</dl>
<p><a id="logout" href="/auth/logout">Sign out</a></p>
</body></html>
`, html.EscapeString(r.RequestURI), rows.String())
	default:
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"method": r.Method, "uri": r.RequestURI})
	}
}

// count is how many requests the backend has received.
func (b *pBackend) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.seen)
}

// since returns the requests received after the first n.
func (b *pBackend) since(n int) []pSeen {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]pSeen(nil), b.seen[n:]...)
}

// last returns the one request received after the first n, failing the
// test unless exactly one arrived.
func (b *pBackend) last(t testing.TB, n int) pSeen {
	t.Helper()
	got := b.since(n)
	if len(got) != 1 {
		t.Fatalf("backend received %d requests; want 1", len(got))
	}
	return got[0]
}

// pWebSocketGUID is RFC 6455 §1.3's magic value.
const pWebSocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func pWebSocketAccept(key string) string {
	sum := sha1.Sum([]byte(key + pWebSocketGUID))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// pServeWebSocket completes an RFC 6455 handshake by hand, echoes one
// frame and closes.
func pServeWebSocket(w http.ResponseWriter, r *http.Request) {
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
		pWebSocketAccept(r.Header.Get("Sec-WebSocket-Key")))
	if err := rw.Flush(); err != nil {
		return
	}
	op, payload, err := pReadFrame(rw.Reader)
	if err != nil {
		return
	}
	conn.Write(pFrame(op, payload, false))
}

// pFrame encodes a final WebSocket frame of up to 125 bytes; clients mask
// (RFC 6455 §5.3), servers do not.
func pFrame(op byte, payload []byte, mask bool) []byte {
	if len(payload) > 125 {
		panic("pFrame: payload too long for this test helper")
	}
	out := []byte{0x80 | op, byte(len(payload))}
	if !mask {
		return append(out, payload...)
	}
	key := [4]byte{0x1f, 0x2e, 0x3d, 0x4c}
	out[1] |= 0x80
	out = append(out, key[:]...)
	for i, c := range payload {
		out = append(out, c^key[i%4])
	}
	return out
}

// pReadFrame reads one short WebSocket frame, unmasking it if masked.
func pReadFrame(r *bufio.Reader) (op byte, payload []byte, err error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := int(h[1] & 0x7f)
	if n > 125 {
		return 0, nil, fmt.Errorf("frame length %d: longer than this test helper reads", n)
	}
	var key [4]byte
	masked := h[1]&0x80 != 0
	if masked {
		if _, err := io.ReadFull(r, key[:]); err != nil {
			return 0, nil, err
		}
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, err
	}
	if masked {
		for i := range payload {
			payload[i] ^= key[i%4]
		}
	}
	return h[0] & 0x0f, payload, nil
}
