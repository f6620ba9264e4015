package gateway

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testenv"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// These tests speak raw HTTP/2 frames to the gateway, which a well-behaved
// client library never sends: more streams than the server allows, header
// blocks far over limits.max_header_bytes, and HPACK tricks that make a
// few bytes decode into megabytes. The limits are set in newHTTPServer.

// h2Conn is a raw HTTP/2 connection to the gateway's https listener.
type h2Conn struct {
	t  *testing.T
	c  *tls.Conn
	fr *http2.Framer

	settings map[http2.SettingID]uint32 // the server's first SETTINGS
}

// dialH2 opens a TLS connection with ALPN h2, exchanges the preface and
// the SETTINGS frames, and returns the raw connection.
func dialH2(t *testing.T, g *testGateway) *h2Conn {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", g.httpsAddr(),
		&tls.Config{RootCAs: g.roots(), NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if p := c.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("ALPN chose %q; want h2", p)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	h := &h2Conn{t: t, c: c, fr: http2.NewFramer(c, c), settings: map[http2.SettingID]uint32{}}
	h.fr.MaxHeaderListSize = 1 << 20
	if err := h.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			t.Fatalf("read the server's SETTINGS: %v", err)
		}
		if sf, ok := f.(*http2.SettingsFrame); ok && !sf.IsAck() {
			sf.ForeachSetting(func(s http2.Setting) error { h.settings[s.ID] = s.Val; return nil })
			if err := h.fr.WriteSettingsAck(); err != nil {
				t.Fatal(err)
			}
			return h
		}
	}
}

// headerBlock HPACK-encodes a GET of path with extra header fields, never
// indexed (RFC 7541 §6.2.3), so that each block stands alone.
func headerBlock(g *testGateway, path string, extra ...hpack.HeaderField) []byte {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	fields := []hpack.HeaderField{
		{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "https"},
		{Name: ":authority", Value: g.httpsAddr()}, {Name: ":path", Value: path},
	}
	for _, f := range append(fields, extra...) {
		f.Sensitive = true // never indexed
		enc.WriteField(f)
	}
	return buf.Bytes()
}

// h2Frames reads frames off the connection until it fails, and reports
// the ones the tests look at.
type h2Frames struct {
	mu       sync.Mutex
	resets   map[uint32]http2.ErrCode
	status   map[uint32]string // :status of each answered stream
	goAway   *h2GoAway
	readErr  error
	pingAcks chan [8]byte
	done     chan struct{}
}

func (h *h2Conn) readAll() *h2Frames {
	out := &h2Frames{resets: map[uint32]http2.ErrCode{}, status: map[uint32]string{},
		pingAcks: make(chan [8]byte, 1), done: make(chan struct{})}
	dec := hpack.NewDecoder(4096, nil)
	go func() {
		defer close(out.done)
		for {
			f, err := h.fr.ReadFrame()
			if err != nil {
				out.mu.Lock()
				out.readErr = err
				out.mu.Unlock()
				return
			}
			out.mu.Lock()
			switch f := f.(type) {
			case *http2.RSTStreamFrame:
				out.resets[f.StreamID] = f.ErrCode
			case *http2.GoAwayFrame:
				// A copy: the framer reuses f (and its debug data) for the
				// next frame it reads.
				out.goAway = &h2GoAway{ErrCode: f.ErrCode, DebugData: string(f.DebugData())}
			case *http2.HeadersFrame:
				fields, _ := dec.DecodeFull(f.HeaderBlockFragment())
				for _, hf := range fields {
					if hf.Name == ":status" {
						out.status[f.StreamID] = hf.Value
					}
				}
			case *http2.PingFrame:
				if !f.IsAck() {
					h.fr.WritePing(true, f.Data)
				} else {
					select {
					case out.pingAcks <- f.Data:
					default:
					}
				}
			}
			out.mu.Unlock()
		}
	}()
	return out
}

// ping sends a PING and waits for its ACK. The server handles a
// connection's frames in order, so by then it has handled every frame
// sent before the PING.
func (f *h2Frames) ping(t *testing.T, h *h2Conn) {
	t.Helper()
	data := [8]byte{'s', 'y', 'n', 'c'}
	if err := h.fr.WritePing(false, data); err != nil {
		t.Fatalf("write PING: %v", err)
	}
	select {
	case got := <-f.pingAcks:
		if got != data {
			t.Fatalf("PING ACK carries %q; want %q", got, data)
		}
	case <-f.done:
		t.Fatalf("the connection ended before the PING ACK: %v", f.readErr)
	case <-time.After(30 * time.Second):
		t.Fatal("no PING ACK within 30 s")
	}
}

func (f *h2Frames) snapshot() (resets map[uint32]http2.ErrCode, status map[uint32]string, goAway *h2GoAway, readErr error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	resets, status = map[uint32]http2.ErrCode{}, map[uint32]string{}
	for k, v := range f.resets {
		resets[k] = v
	}
	for k, v := range f.status {
		status[k] = v
	}
	return resets, status, f.goAway, f.readErr
}

// TestHTTP2StreamLimit: a client that opens more streams at once than
// limits.max_concurrent_streams (advertised in SETTINGS) has the excess
// refused with RST_STREAM; the backend never sees more than the limit in
// flight from that connection; the admitted streams complete; the gateway
// goes on serving.
func TestHTTP2StreamLimit(t *testing.T) {
	const limit, opened = 10, 30
	var inFlight, peak atomic.Int64
	release := make(chan struct{})
	var releaseOnce sync.Once
	releaseAll := func() { releaseOnce.Do(func() { close(release) }) }
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		io.WriteString(w, "slow")
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(releaseAll)
	g := newTestGateway(t)
	g.start("limits:\n  max_concurrent_streams: 10\nroutes:\n  - path: /\n    auth: public\n    upstream: " + slow.URL + "\n")

	h := dialH2(t, g)
	if got := h.settings[http2.SettingMaxConcurrentStreams]; got != limit {
		t.Fatalf("SETTINGS_MAX_CONCURRENT_STREAMS = %d; want %d", got, limit)
	}
	frames := h.readAll()
	// The server must have our SETTINGS ack before the streams come, so
	// that an excess stream is a protocol error rather than a race.
	frames.ping(t, h)
	for i := range opened {
		id := uint32(2*i + 1)
		if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: headerBlock(g, "/slow"), EndStream: true, EndHeaders: true}); err != nil {
			t.Fatalf("open stream %d: %v", id, err)
		}
	}
	testenv.WaitFor(t, "the streams over the limit to be refused", func() bool {
		resets, _, _, _ := frames.snapshot()
		return len(resets) >= opened-limit
	})
	testenv.WaitFor(t, "the admitted streams to reach the backend", func() bool { return inFlight.Load() == limit })
	resets, _, goAway, _ := frames.snapshot()
	for id, code := range resets {
		if code != http2.ErrCodeProtocol && code != http2.ErrCodeRefusedStream {
			t.Errorf("stream %d reset with %v; want PROTOCOL_ERROR or REFUSED_STREAM", id, code)
		}
	}
	releaseAll()
	testenv.WaitFor(t, "the admitted streams to be answered", func() bool {
		_, status, _, _ := frames.snapshot()
		return len(status) >= limit
	})
	_, status, _, _ := frames.snapshot()
	for id, s := range status {
		if s != "200" {
			t.Errorf("admitted stream %d = %s; want 200", id, s)
		}
	}
	if p := peak.Load(); p > limit {
		t.Errorf("the backend saw %d requests at once from one connection; the limit is %d", p, limit)
	}
	t.Logf("%d streams opened at once: %d refused, %d answered 200, peak %d at the backend, GOAWAY %v",
		opened, len(resets), len(status), peak.Load(), goAway != nil)
	checkStillServes(t, g)
}

// TestHTTP2HugeHeaders: header blocks over limits.max_header_bytes are
// refused — a 431 when the block is a little over, the connection closed
// (GOAWAY) when a client keeps sending CONTINUATION frames or its HPACK
// data asks for more than the advertised table — and a few wire bytes
// that decode into megabytes (indexed references to one large entry)
// cost the server no more than their wire size. None reaches the
// backend; the gateway goes on serving.
func TestHTTP2HugeHeaders(t *testing.T) {
	b := newBackend(t, "app")
	g := newTestGateway(t)
	g.start(publicRoute(b))

	t.Run("fail-block-over-limit-431", func(t *testing.T) {
		h := dialH2(t, g)
		frames := h.readAll()
		big := hpack.HeaderField{Name: "cookie", Value: strings.Repeat("c", 70<<10)}
		if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: headerBlock(g, "/big", big), EndStream: true, EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
		testenv.WaitFor(t, "an answer to the oversized block", func() bool {
			_, status, goAway, err := frames.snapshot()
			return status[1] != "" || goAway != nil || err != nil
		})
		_, status, goAway, _ := frames.snapshot()
		if status[1] != "431" && goAway == nil {
			t.Errorf("70 KiB header block: status %q, GOAWAY %v; want 431 or the connection closed", status[1], goAway)
		}
	})

	// Header blocks sent as HEADERS plus CONTINUATION frames, far over
	// the limit: the server closes the connection instead of reading on
	// (the CONTINUATION flood, CVE-2023-45288).
	many := make([]hpack.HeaderField, 100000)
	for i := range many {
		many[i] = hpack.HeaderField{Name: "x-f", Value: "y"}
	}
	floods := []struct {
		name     string
		block    []byte
		wantCode http2.ErrCode
	}{
		// 100,000 small fields: the list limit is passed long before the
		// last frame, and every further frame is refused.
		{"fail-continuation-flood-many-fields", headerBlock(g, "/flood", many...), http2.ErrCodeProtocol},
		// One 4 MiB value: longer than any field may be.
		{"fail-continuation-flood-one-huge-field", headerBlock(g, "/flood",
			hpack.HeaderField{Name: "x-flood", Value: strings.Repeat("f", 4<<20)}), http2.ErrCodeCompression},
	}
	for _, tt := range floods {
		t.Run(tt.name, func(t *testing.T) {
			h := dialH2(t, g)
			frames := h.readAll()
			const frag = 16 << 10
			sent := 0
			writeErr := func() error {
				if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: tt.block[:frag], EndStream: true}); err != nil {
					return err
				}
				for sent = frag; sent < len(tt.block); sent += frag {
					end := min(sent+frag, len(tt.block))
					if err := h.fr.WriteContinuation(1, end == len(tt.block), tt.block[sent:end]); err != nil {
						return err
					}
				}
				return nil
			}()
			<-frames.done
			_, status, goAway, _ := frames.snapshot()
			if goAway == nil || goAway.ErrCode != tt.wantCode {
				t.Errorf("%d-byte header block: GOAWAY %s; want %v", len(tt.block), goAwayCode(goAway), tt.wantCode)
			}
			if status[1] != "" {
				t.Errorf("the flooded stream was answered %s; want the connection closed", status[1])
			}
			t.Logf("%d-byte header block: GOAWAY %s after %d bytes were written (write error: %v)",
				len(tt.block), goAwayCode(goAway), sent, writeErr)
		})
	}

	t.Run("fail-hpack-table-size-over-settings", func(t *testing.T) {
		h := dialH2(t, g)
		if got := h.settings[http2.SettingHeaderTableSize]; got != 4096 {
			t.Errorf("SETTINGS_HEADER_TABLE_SIZE = %d; want 4096", got)
		}
		frames := h.readAll()
		// A dynamic table size update to 1 MiB (RFC 7541 §6.3), more
		// than the server allowed.
		block := append(hpackSizeUpdate(1<<20), headerBlock(g, "/table")...)
		if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block, EndStream: true, EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
		<-frames.done
		_, status, goAway, _ := frames.snapshot()
		if goAway == nil || goAway.ErrCode != http2.ErrCodeCompression || status[1] != "" {
			t.Errorf("table size update to 1 MiB: GOAWAY %v, status %q; want GOAWAY COMPRESSION_ERROR and no answer", goAway, status[1])
		}
	})

	t.Run("fail-hpack-indexed-bomb", func(t *testing.T) {
		h := dialH2(t, g)
		frames := h.readAll()
		// One 4000-byte header stored in the dynamic table, then 20,000
		// one-byte references to it: about 24 KiB on the wire, 80 MB
		// decoded.
		var block bytes.Buffer
		block.Write(headerBlock(g, "/bomb"))
		big := hpack.HeaderField{Name: "x-b", Value: strings.Repeat("b", 4000)}
		enc := hpack.NewEncoder(&block)
		enc.WriteField(big) // literal with incremental indexing: entry 62
		for range 20000 {
			block.WriteByte(0x80 | 62) // indexed header field, index 62 (RFC 7541 §6.1)
		}
		start := time.Now()
		if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
		testenv.WaitFor(t, "an answer to the HPACK bomb", func() bool {
			_, status, goAway, err := frames.snapshot()
			return status[1] != "" || goAway != nil || err != nil
		})
		_, status, goAway, _ := frames.snapshot()
		t.Logf("%d-byte header block decoding to ~%d MB: status %q, GOAWAY %v, after %v",
			block.Len(), 20000*4000/1000000, status[1], goAway, time.Since(start))
		if status[1] != "431" && goAway == nil {
			t.Errorf("HPACK bomb: status %q, GOAWAY %v; want 431 or the connection closed", status[1], goAway)
		}
	})

	for _, r := range b.requests() {
		t.Errorf("the backend received %s %s; the oversized requests must stop at the gateway", r.Method, r.RequestURI)
	}
	checkStillServes(t, g)
}

// hpackSizeUpdate encodes a dynamic table size update (RFC 7541 §6.3):
// 001 and the size as a 5-bit-prefix integer (§5.1).
func hpackSizeUpdate(size uint64) []byte {
	const prefix = 31
	if size < prefix {
		return []byte{0x20 | byte(size)}
	}
	out := []byte{0x20 | prefix}
	size -= prefix
	for size >= 128 {
		out = append(out, byte(size%128)|0x80)
		size /= 128
	}
	return append(out, byte(size))
}

// h2GoAway is what a GOAWAY frame said.
type h2GoAway struct {
	ErrCode   http2.ErrCode
	DebugData string
}

func goAwayCode(f *h2GoAway) string {
	if f == nil {
		return "none"
	}
	return f.ErrCode.String() + " " + f.DebugData
}
