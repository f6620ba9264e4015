package gateway

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testenv"
)

// lines is an io.Writer that records each Write call separately.
type lines struct {
	mu     sync.Mutex
	writes []string
	gate   chan struct{} // when set, each Write waits for a value
}

func (l *lines) Write(p []byte) (int, error) {
	if l.gate != nil {
		<-l.gate
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes = append(l.writes, string(p))
	return len(p), nil
}

func (l *lines) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.writes, "")
}

func (l *lines) calls() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.writes)
}

// feed lets one Write of a gated lines through every interval until the
// test ends.
func feed(t *testing.T, gate chan struct{}, interval time.Duration) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case gate <- struct{}{}:
				// The behaviour under test, not synchronisation: a
				// writer slower than the loggers.
				time.Sleep(interval)
			case <-stop:
				return
			}
		}
	})
	t.Cleanup(func() {
		close(stop)
		wg.Wait()
	})
}

// TestLineWriterDirect: without a flusher every line is written at once,
// by the call that logged it.
func TestLineWriterDirect(t *testing.T) {
	out := &lines{}
	lw := newLineWriter(out)
	for i := range 3 {
		fmt.Fprintf(lw, "line %d\n", i)
		if got, want := out.calls(), i+1; got != want {
			t.Fatalf("after line %d: %d writes; want %d", i, got, want)
		}
	}
}

// TestLineWriterFlusher: lines logged from many goroutines while a
// flusher runs all arrive whole, each goroutine's in its order, in fewer
// writes than lines when they come faster than they are written; and when
// the flusher stops, what was pending is written and later lines go
// directly again.
func TestLineWriterFlusher(t *testing.T) {
	gate := make(chan struct{})
	out := &lines{gate: gate}
	lw := newLineWriter(out)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		lw.run(ctx)
		close(done)
	}()
	testenv.WaitFor(t, "the flusher to start", func() bool {
		lw.mu.Lock()
		defer lw.mu.Unlock()
		return lw.flushers == 1
	})
	// Let writes through slowly, so that lines pile up behind each one.
	feed(t, gate, time.Millisecond)
	const goroutines, perG = 8, 200
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perG {
				fmt.Fprintf(lw, "g%d line %d %s\n", g, i, strings.Repeat("x", 50))
			}
		})
	}
	wg.Wait()
	cancel()
	<-done

	text := out.text()
	got := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(got) != goroutines*perG {
		t.Fatalf("%d lines written; want %d", len(got), goroutines*perG)
	}
	next := make([]int, goroutines)
	for _, line := range got {
		var g, i int
		var rest string
		if _, err := fmt.Sscanf(line, "g%d line %d %s", &g, &i, &rest); err != nil || rest != strings.Repeat("x", 50) {
			t.Fatalf("line %q is not whole", line)
		}
		if i != next[g] {
			t.Fatalf("goroutine %d: line %d after line %d", g, i, next[g]-1)
		}
		next[g]++
	}
	if n := out.calls(); n >= goroutines*perG {
		t.Errorf("%d writes for %d lines; want them batched", n, goroutines*perG)
	}

	before := out.calls()
	io.WriteString(lw, "after\n")
	if out.calls() != before+1 {
		t.Error("a line after the flusher stopped was not written at once")
	}
}

// TestLineWriterBounded: when the underlying writer cannot keep up, lines
// are written by the callers (in order) rather than piling up beyond
// maxPending.
func TestLineWriterBounded(t *testing.T) {
	gate := make(chan struct{})
	out := &lines{gate: gate}
	lw := newLineWriter(out)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go lw.run(ctx)
	testenv.WaitFor(t, "the flusher to start", func() bool {
		lw.mu.Lock()
		defer lw.mu.Unlock()
		return lw.flushers == 1
	})
	line := strings.Repeat("y", 1023) + "\n"
	const count = 2 * maxPending / 1024 // twice what may wait
	wrote := make(chan struct{})
	go func() {
		// More than maxPending while the writer is stuck: the call that
		// overflows blocks in the underlying writer instead.
		for range count {
			io.WriteString(lw, line)
		}
		close(wrote)
	}()
	testenv.WaitFor(t, "the pending lines to fill up", func() bool {
		lw.mu.Lock()
		defer lw.mu.Unlock()
		return len(lw.pending) > maxPending-2*len(line)
	})
	// The flusher waits at the gate with its batch; the caller whose line
	// would overflow must wait for it (to write its line itself), not pile
	// it up.
	testenv.WaitFor(t, "the overflowing caller to wait for the writer", func() bool {
		return goroutineBlocked("sync.Mutex.Lock", "(*lineWriter).Write")
	})
	lw.mu.Lock()
	pending := len(lw.pending)
	lw.mu.Unlock()
	if pending > maxPending {
		t.Errorf("%d bytes pending; want at most %d", pending, maxPending)
	}
	select {
	case <-wrote:
		t.Fatal("every line was accepted while the writer was stuck")
	default:
	}
	feed(t, gate, 0)
	<-wrote
	cancel()
	testenv.WaitFor(t, "the flusher to write the rest", func() bool {
		return strings.Count(out.text(), "\n") == count
	})
}

// TestAccessLogWrittenWhileRunning: with NewLogger's logger, the access
// lines of a running gateway reach the log (through the flusher), and the
// last ones are written by the time Run returns.
func TestAccessLogWrittenWhileRunning(t *testing.T) {
	b := newBackend(t, "app")
	g := newTestGateway(t)
	g.plain = true
	cfgFile := g.write("routes:\n  - path: /\n    auth: public\n    upstream: " + b.URL + "\n")
	logs := &logBuffer{}
	g.logger = NewLogger(logs, Log{})
	rs := g.run(cfgFile)
	const n = 50
	for i := range n {
		res, err := http.Get(fmt.Sprintf("http://%s/x%d", g.httpAddr(), i))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	testenv.WaitFor(t, "the access lines", func() bool { return strings.Count(logs.String(), `"msg":"request"`) == n })
	res, err := http.Get("http://" + g.httpAddr() + "/last")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if err := rs.stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	out := logs.String()
	if !strings.Contains(out, `"path":"/last"`) {
		t.Errorf("the last access line is missing after Run returned:\n%s", out)
	}
	if !strings.HasSuffix(strings.TrimSpace(out), `"msg":"stopped"}`) {
		t.Errorf("the log does not end with the stopped line:\n%s", out)
	}
}

// goroutineBlocked reports whether some goroutine is blocked in state (as
// a goroutine dump names it) with fn among its frames.
func goroutineBlocked(state, fn string) bool {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		head, frames, _ := strings.Cut(g, "\n")
		if strings.Contains(head, "["+state) && strings.Contains(frames, fn) {
			return true
		}
	}
	return false
}
