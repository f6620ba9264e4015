package testenv

import (
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// errPortTaken says that a server could not bind the port it was given:
// another process took it between the choice and the bind.
var errPortTaken = errors.New("port taken")

// portAttempts is how many ports a server that must be told its port is
// tried on before the test gives up.
const portAttempts = 5

// serverProcess is a server the test started and stops.
type serverProcess struct {
	name   string
	cmd    *exec.Cmd
	log    *processLog
	exited chan struct{} // closed when the process has exited
	err    error         // cmd.Wait's result; read after exited is closed
}

// startServerProcess starts cmd with its output collected, and the kernel
// told to kill it should the test binary die without running cleanups.
func startServerProcess(name string, cmd *exec.Cmd) (*serverProcess, error) {
	p := &serverProcess{name: name, cmd: cmd, log: newProcessLog(), exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.log, p.log // one writer: exec merges them into one pipe
	cmd.SysProcAttr = originalSysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// stop kills the process and waits for it.
func (p *serverProcess) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Kill()
	<-p.exited
}

// waitUntil polls ready until it reports true, the process exits, or
// timeout passes. A process that exited saying its address was in use
// yields errPortTaken.
func (p *serverProcess) waitUntil(timeout time.Duration, ready func() bool) error {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if ready() {
			return nil
		}
		select {
		case <-p.exited:
			if strings.Contains(strings.ToLower(p.log.tail(64<<10)), "address already in use") {
				return errPortTaken
			}
			return fmt.Errorf("%s exited (%v) before it was ready", p.name, p.err)
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s was not ready within %v", p.name, timeout)
		}
	}
}

// startOnUnusedPort starts a server that cannot listen on port 0 and
// report the port it got: it picks a port that is unused on 127.0.0.1,
// calls start with it, and picks another when start reports errPortTaken
// (the port was taken before the server bound it). Every process started
// is stopped when the test ends, and its output logged if the test failed.
func startOnUnusedPort(t testing.TB, name string, start func(port int) (*serverProcess, error)) int {
	t.Helper()
	for range portAttempts {
		port := unusedPort(t)
		p, err := start(port)
		if p != nil {
			t.Cleanup(func() {
				p.stop()
				if t.Failed() {
					t.Logf("%s (port %d) printed, ending:\n%s", name, port, p.log.tail(16<<10))
				}
			})
		}
		if err == nil {
			return port
		}
		if !errors.Is(err, errPortTaken) {
			out := ""
			if p != nil {
				out = p.log.tail(16 << 10)
			}
			t.Fatalf("%s: %v; its output ends:\n%s", name, err, out)
		}
		t.Logf("%s: port %d was taken before it bound it; trying another", name, port)
	}
	t.Fatalf("%s: %d ports in a row were taken before it could bind them", name, portAttempts)
	return 0
}

// unusedPort returns a TCP port on 127.0.0.1 that was free a moment ago.
// Another process may take it before the caller binds it: callers retry
// (startOnUnusedPort).
func unusedPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// dialable reports whether something accepts connections on 127.0.0.1:port.
func dialable(port int) bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
