package gateway

import (
	"context"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// NewLogger returns the JSON logger configured by log.level. Its handler
// also takes the access log's lines, assembled without slog
// (accesslog.go), and while a Server runs a flusher writes both kinds of
// line, many per write (logwriter.go); lines never interleave.
func NewLogger(w io.Writer, l Log) *slog.Logger {
	var level slog.Level
	switch strings.ToLower(l.Level) {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		level = slog.LevelInfo
	}
	out := newLineWriter(w)
	return slog.New(&logHandler{JSONHandler: slog.NewJSONHandler(out, &slog.HandlerOptions{Level: level}), out: out})
}

// Runtime defaults. A proxy makes a lot of short-lived garbage per request;
// with Go's GOGC=100 the collector runs so often that it, not the network,
// caps throughput. 400 trades memory for throughput, and the soft memory
// limit keeps that trade bounded: near the limit the collector runs more
// often again.
const (
	defaultGOGC               = 400
	defaultMemoryLimit        = "512MiB"
	defaultReleaseMemoryAfter = 10 * time.Second
)

// ApplyRuntime sets the garbage collector's target and soft memory limit
// from runtime.gogc and runtime.memory_limit. The GOGC and GOMEMLIMIT
// environment variables, when set, win: the Go runtime has already applied
// them.
func ApplyRuntime(r Runtime, logger *slog.Logger) {
	gogc := r.GOGC
	limit, err := ParseBytes(r.MemoryLimit) // validated by Load
	if err != nil {
		return
	}
	if _, ok := os.LookupEnv("GOGC"); !ok {
		debug.SetGCPercent(gogc)
	}
	if _, ok := os.LookupEnv("GOMEMLIMIT"); !ok {
		debug.SetMemoryLimit(limit)
	}
	logger.Debug("runtime", "gogc", gogc, "memory_limit", limit)
}

// ParseBytes reads a size such as "512MiB", "1GiB", "200MB" or a plain
// number of bytes.
func ParseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
	}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, strconv.ErrSyntax
	}
	return n * mult, nil
}

// releaseMemoryWhenIdle returns the memory a burst of traffic used to the
// operating system once the traffic stops. With GOGC at 400 the heap may
// grow to five times what is live before a collection, and the runtime
// keeps pages it may soon need again: after a burst a quiet gateway would
// hold hundreds of MiB it no longer uses — in a Kubernetes Pod, counted
// against the limit and pushing its neighbours out. So after a whole
// period of `every` with no request, following one with requests, it
// collects twice (the second empties what sync.Pools kept, such as the
// buffers of connections that were just parked) and returns every free
// page. Under steady traffic it never runs; at most it runs once every
// two periods.
func (s *Server) releaseMemoryWhenIdle(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	last, busy := s.requestSeq.Load(), false
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		s.releaseChecks.Add(1)
		n := s.requestSeq.Load()
		switch {
		case n != last:
			last, busy = n, true
		case busy:
			busy = false
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			debug.FreeOSMemory()
			debug.FreeOSMemory()
			runtime.ReadMemStats(&after)
			s.logger.Debug("traffic stopped: memory returned to the operating system",
				"returned_mib", (int64(after.HeapReleased)-int64(before.HeapReleased))>>20,
				"heap_in_use_mib", after.HeapInuse>>20)
		}
	}
}
