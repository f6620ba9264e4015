package upstream

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/testenv"
)

// TestProxyWebSocket does a real RFC 6455 upgrade through the proxy, with
// a hand-written handshake and frames, and checks the identity headers
// reached the backend on the upgrade request.
func TestProxyWebSocket(t *testing.T) {
	// least_conn wraps the response body to count in-flight requests;
	// the upgraded connection must survive that.
	for _, balance := range []string{"round_robin", "least_conn"} {
		t.Run("ok-"+balance, func(t *testing.T) { testWebSocket(t, balance) })
	}
}

func testWebSocket(t *testing.T, balance string) {
	back := newBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "upgrade required", http.StatusUpgradeRequired)
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		defer c.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Accept: %s\r\nX-Seen-User: %s\r\n\r\n",
			wsAccept(r.Header.Get("Sec-WebSocket-Key")), r.Header.Get("X-Auth-User"))
		brw.Flush()
		msg, err := readFrame(brw.Reader)
		if err != nil {
			t.Errorf("backend reading frame: %v", err)
			return
		}
		writeFrame(c, []byte("echo: "+string(msg)), false)
	}))
	cfg := testConfig()
	cfg.Upstreams = map[string]PoolConfig{"ws": {Targets: []string{back.URL}, Balance: balance}}
	u, _ := newTestUpstreams(t, cfg, nil)
	front := newFrontend(t, mustHandler(t, u, "ws", Route{}), func(r *http.Request) *Forward {
		f := gatewayForward(r)
		f.Identity = testIdentity()
		return f
	})

	c, err := net.Dial("tcp", front.Listener.Addr().String())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	// The key and accept value are RFC 6455 §1.3's example.
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: app.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-Auth-User: mallory\r\n\r\n")
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading handshake response: %v", err)
	}
	if res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d; want 101", res.StatusCode)
	}
	if got, want := res.Header.Get("Sec-WebSocket-Accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="; got != want {
		t.Errorf("Sec-WebSocket-Accept %q; want %q", got, want)
	}
	if got := res.Header.Get("X-Seen-User"); got != "alice" {
		t.Errorf("backend saw X-Auth-User %q on the upgrade; want alice", got)
	}
	if err := writeFrame(c, []byte("hello"), true); err != nil {
		t.Fatalf("write frame: %v", err)
	}
	msg, err := readFrame(br)
	if err != nil {
		t.Fatalf("read frame: %v", err)
	}
	if string(msg) != "echo: hello" {
		t.Errorf("frame %q; want %q", msg, "echo: hello")
	}
	c.Close()
	target := poolOf(t, u, "ws").targets[0]
	if balance == "least_conn" {
		testenv.WaitFor(t, "the closed upgrade is counted out", func() bool { return target.InFlight() == 0 })
	}
}

func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")) // RFC 6455 §4.2.2
	return base64.StdEncoding.EncodeToString(h[:])
}

// writeFrame writes one final text frame (RFC 6455 §5.2) of under 126
// bytes, masked as a client must.
func writeFrame(w io.Writer, payload []byte, mask bool) error {
	hdr := []byte{0x81, byte(len(payload))}
	body := append([]byte(nil), payload...)
	if mask {
		key := []byte{1, 2, 3, 4}
		hdr[1] |= 0x80
		hdr = append(hdr, key...)
		for i := range body {
			body[i] ^= key[i%4]
		}
	}
	_, err := w.Write(append(hdr, body...))
	return err
}

func readFrame(r io.Reader) ([]byte, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := int(hdr[1] & 0x7f)
	var key [4]byte
	masked := hdr[1]&0x80 != 0
	if masked {
		if _, err := io.ReadFull(r, key[:]); err != nil {
			return nil, err
		}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	if masked {
		for i := range body {
			body[i] ^= key[i%4]
		}
	}
	return body, nil
}
