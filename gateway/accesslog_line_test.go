package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/netip"
	"regexp"
	"testing"
	"time"
)

// TestAccessLineMatchesSlog: the line the gateway assembles itself is,
// byte for byte apart from the time, the line slog's JSON handler writes
// for the same fields — including hosts and paths a client filled with
// quotes, control characters, invalid UTF-8 and line separators.
func TestAccessLineMatchesSlog(t *testing.T) {
	base := accessEntry{
		requestID: "9f2c41aa-1z", method: "GET", host: "app.example.com", path: "/api/items",
		status: 200, bytes: 28, duration: 1234567 * time.Nanosecond,
		route: "api", upstream: "http://127.0.0.1:3000", userID: "4711",
		clientIP: netip.MustParseAddr("192.0.2.7"),
	}
	tests := []struct {
		name string
		edit func(e *accessEntry)
	}{
		{name: "ok-plain", edit: func(*accessEntry) {}},
		{name: "ok-quotes-and-backslashes", edit: func(e *accessEntry) { e.path = `/a"b\c` }},
		{name: "ok-control-characters", edit: func(e *accessEntry) { e.host = "h\x00\x01\t\n\r\x1f\x7fost" }},
		{name: "ok-invalid-utf8", edit: func(e *accessEntry) { e.path = "/\xff\xfe/ok/\xc3" }},
		{name: "ok-line-separators", edit: func(e *accessEntry) { e.path = "/a\u2028b\u2029c" }},
		{name: "ok-unicode", edit: func(e *accessEntry) { e.path = "/über/日本/😀"; e.host = "<b>&amp;</b>" }},
		{name: "ok-ipv6-zone", edit: func(e *accessEntry) { e.clientIP = netip.MustParseAddr("fe80::1%eth0") }},
		{name: "ok-no-client-ip", edit: func(e *accessEntry) { e.clientIP = netip.Addr{} }},
		{name: "ok-empty-fields", edit: func(e *accessEntry) {
			e.route, e.upstream, e.userID, e.status, e.bytes, e.duration = "", "", "", 404, 0, 0
		}},
		{name: "ok-long-duration", edit: func(e *accessEntry) { e.duration = 73*time.Second + 5*time.Microsecond }},
		{name: "ok-sub-microsecond", edit: func(e *accessEntry) { e.duration = 999 }},
	}
	timeField := regexp.MustCompile(`^\{"time":"[^"]+",`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := base
			tt.edit(&e)

			var fast bytes.Buffer
			fl := newAccessLogger(NewLogger(&fast, Log{}))
			if fl.fast == nil {
				t.Fatal("NewLogger's logger does not take assembled lines")
			}
			fl.log(context.Background(), time.Now(), &e)

			var viaSlog bytes.Buffer
			sl := newAccessLogger(slog.New(slog.NewJSONHandler(&viaSlog, nil)))
			if sl.fast != nil {
				t.Fatal("a logger NewLogger did not build takes assembled lines; want slog")
			}
			sl.log(context.Background(), time.Now(), &e)

			if !json.Valid(bytes.TrimSpace(fast.Bytes())) {
				t.Fatalf("assembled line is not JSON: %q", fast.String())
			}
			got := timeField.ReplaceAllString(fast.String(), "{")
			want := timeField.ReplaceAllString(viaSlog.String(), "{")
			if got != want {
				t.Errorf("assembled line\n%q\nwant (slog)\n%q", got, want)
			}
			var m map[string]any
			if err := json.Unmarshal(fast.Bytes(), &m); err != nil {
				t.Fatal(err)
			}
			if _, err := time.Parse(time.RFC3339Nano, m["time"].(string)); err != nil {
				t.Errorf("time %q: %v", m["time"], err)
			}
		})
	}
}

// TestAccessLineLevel: at log.level warn the access log is as silent
// through the assembled path as through slog.
func TestAccessLineLevel(t *testing.T) {
	var buf bytes.Buffer
	a := newAccessLogger(NewLogger(&buf, Log{Level: "warn"}))
	a.log(context.Background(), time.Now(), &accessEntry{method: "GET", path: "/"})
	if buf.Len() != 0 {
		t.Errorf("access line written at level warn: %q", buf.String())
	}
}

// TestNewLoggerDerived: a logger derived with attributes or a group keeps
// them, and so goes through slog.
func TestNewLoggerDerived(t *testing.T) {
	var buf bytes.Buffer
	l := NewLogger(&buf, Log{}).With("component", "x")
	a := newAccessLogger(l)
	if a.fast != nil {
		t.Fatal("a derived logger takes assembled lines; its attributes would be lost")
	}
	a.log(context.Background(), time.Now(), &accessEntry{method: "GET", path: "/"})
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("line %q: %v", buf.String(), err)
	}
	if m["component"] != "x" || m["msg"] != "request" {
		t.Errorf("line = %v; want component x and msg request", m)
	}
}

func BenchmarkAccessLine(b *testing.B) {
	e := &accessEntry{
		requestID: "9f2c41aa-1z", method: "GET", host: "app.example.com", path: "/api/items",
		status: 200, bytes: 28, duration: 1234567 * time.Nanosecond,
		route: "api", upstream: "http://127.0.0.1:3000", userID: "4711",
		clientIP: netip.MustParseAddr("192.0.2.7"),
	}
	for _, tc := range []struct {
		name   string
		logger *slog.Logger
	}{
		{"assembled", NewLogger(io.Discard, Log{})},
		{"slog", slog.New(slog.NewJSONHandler(io.Discard, nil))},
	} {
		b.Run(tc.name, func(b *testing.B) {
			a := newAccessLogger(tc.logger)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				a.log(ctx, time.Now(), e)
			}
		})
	}
}

// TestAccessLineAllocations: through NewLogger's handler an access line
// allocates nothing (the buffer is pooled).
func TestAccessLineAllocations(t *testing.T) {
	if raceDetector {
		t.Skip("the race detector makes sync.Pool drop items: allocations are not counted")
	}
	a := newAccessLogger(NewLogger(io.Discard, Log{}))
	e := &accessEntry{requestID: "9f2c41aa-1z", method: "GET", host: "app.example.com", path: "/api/items",
		status: 200, bytes: 28, duration: time.Millisecond, route: "api", userID: "4711",
		clientIP: netip.MustParseAddr("192.0.2.7")}
	now := time.Now()
	a.log(context.Background(), now, e) // fill the pool
	if n := testing.AllocsPerRun(1000, func() { a.log(context.Background(), now, e) }); n != 0 {
		t.Errorf("access line allocations = %v; want 0", n)
	}
}
