package gateway

import (
	"context"
	"log/slog"
	"net/netip"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// The access log writes one JSON line per request. Through slog that line
// costs more than the gateway's whole decision (attribute slices that spill
// to the heap, the client address formatted to a string, and json.Marshal
// for the one float), so the logger NewLogger builds can also take a line
// the gateway assembled itself: the same fields, in the same order and the
// same encoding as slog's JSON handler writes them, appended to a pooled
// buffer and written with one Write. A logger built some other way (tests
// pass their own) gets the line through slog, field for field the same.

// logHandler is the handler of the loggers NewLogger returns: slog's JSON
// handler, plus the writer it writes to, shared with the access log.
type logHandler struct {
	*slog.JSONHandler
	out *lineWriter
}

// WithAttrs and WithGroup return plain JSON handlers: a line assembled by
// the gateway would lack their attributes, so such a logger takes the slog
// path (the gateway never derives its access logger).
func (h *logHandler) WithAttrs(attrs []slog.Attr) slog.Handler { return h.JSONHandler.WithAttrs(attrs) }
func (h *logHandler) WithGroup(name string) slog.Handler       { return h.JSONHandler.WithGroup(name) }

// accessEntry is what one access log line says. It never holds the query
// string, a header value, a token, a cookie or a password.
type accessEntry struct {
	requestID, method, host, path string
	status                        int
	bytes                         int64
	duration                      time.Duration
	route, upstream, userID       string
	clientIP                      netip.Addr
}

// accessLogger writes access lines to the handler of the logger it was
// made for: directly when that is a logHandler, else through slog.
type accessLogger struct {
	logger *slog.Logger
	fast   *logHandler // nil: through slog
	bufs   sync.Pool   // *[]byte
}

func newAccessLogger(logger *slog.Logger) *accessLogger {
	a := &accessLogger{logger: logger}
	a.fast, _ = logger.Handler().(*logHandler)
	return a
}

// log writes e, which ended at t (slog takes its own reading of the clock).
func (a *accessLogger) log(ctx context.Context, t time.Time, e *accessEntry) {
	if a.fast == nil {
		a.logger.LogAttrs(ctx, slog.LevelInfo, "request",
			slog.String("request_id", e.requestID),
			slog.String("method", e.method),
			slog.String("host", e.host),
			slog.String("path", e.path),
			slog.Int("status", e.status),
			slog.Int64("bytes", e.bytes),
			slog.Float64("duration_ms", durationMs(e.duration)),
			slog.String("route", e.route),
			slog.String("upstream", e.upstream),
			slog.String("user_id", e.userID),
			slog.String("client_ip", e.clientIP.String()),
		)
		return
	}
	if !a.fast.Enabled(ctx, slog.LevelInfo) {
		return
	}
	bp, _ := a.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	b := appendAccessLine((*bp)[:0], t, e)
	a.fast.out.Write(b) // as slog does, a failed log write is not the request's problem
	if cap(b) <= 4<<10 {
		*bp = b
		a.bufs.Put(bp)
	}
}

// durationMs is a duration in milliseconds with microsecond precision.
func durationMs(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// appendAccessLine appends e as the line slog's JSON handler writes for
// LogAttrs(ctx, LevelInfo, "request", …) at t.
func appendAccessLine(b []byte, t time.Time, e *accessEntry) []byte {
	b = append(b, `{"time":"`...)
	b = t.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":"INFO","msg":"request","request_id":`...)
	b = appendJSONString(b, e.requestID)
	b = append(b, `,"method":`...)
	b = appendJSONString(b, e.method)
	b = append(b, `,"host":`...)
	b = appendJSONString(b, e.host)
	b = append(b, `,"path":`...)
	b = appendJSONString(b, e.path)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.status), 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, e.bytes, 10)
	b = append(b, `,"duration_ms":`...)
	// encoding/json writes a float64 between 1e-6 and 1e21 as 'f' with the
	// shortest precision; a whole number of microseconds in milliseconds
	// is 0 or at least 0.001.
	b = strconv.AppendFloat(b, durationMs(e.duration), 'f', -1, 64)
	b = append(b, `,"route":`...)
	b = appendJSONString(b, e.route)
	b = append(b, `,"upstream":`...)
	b = appendJSONString(b, e.upstream)
	b = append(b, `,"user_id":`...)
	b = appendJSONString(b, e.userID)
	b = append(b, `,"client_ip":"`...)
	if e.clientIP.IsValid() {
		b = e.clientIP.AppendTo(b) // only digits, ".", ":", hex and a zone of letters/digits
	} else {
		b = append(b, "invalid IP"...)
	}
	return append(b, "\"}\n"...)
}

// appendJSONString appends s as a JSON string the way slog does: control
// characters, '"' and '\' escaped, invalid UTF-8 as U+FFFD, and U+2028 and
// U+2029 escaped so that the line is also valid JavaScript. Host and path
// come from the client; nothing in them can end the line or the string.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
