//go:build unix

package park

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testenv"
)

// TestParkingPipelinedSlowHead: a pipelined request whose head stops at
// the end of a line, with the rest arriving after the park time, is read
// whole. http.StateActive comes only once a head is read, so a
// connection must stop counting as idle when the server ends its wait,
// not when it next sees StateActive.
func TestParkingPipelinedSlowHead(t *testing.T) {
	for _, withTLS := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%t", withTLS), func(t *testing.T) {
			r := newParkRig(t, withTLS, time.Minute)
			dial := func() (net.Conn, *bufio.Reader) {
				t.Helper()
				c := r.dial()
				if withTLS {
					roots := x509.NewCertPool()
					roots.AddCert(r.tls.Certificates[0].Leaf)
					tc := tls.Client(c, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", NextProtos: []string{"http/1.1"}})
					c = tc
				}
				return c, bufio.NewReader(c)
			}
			c, br := dial()
			io.WriteString(c, getRequest("/a")+"POST /b HTTP/1.1\r\n")
			if got := readBody(t, br); !strings.HasPrefix(got, "GET /a ") {
				t.Fatalf("first answer %q", got)
			}
			canary, cbr := dial()
			if got := sendRequest(t, canary, cbr, getRequest("/canary")); !strings.HasPrefix(got, "GET /canary ") {
				t.Fatalf("canary answered %q", got)
			}
			testenv.WaitFor(t, "the second connection to be parked", func() bool { return r.pl.Parked() >= 1 })
			if got := sendRequest(t, c, br, "Host: x\r\nContent-Length: 5\r\n\r\nhello"); !strings.HasPrefix(got, `POST /b "hello" `) {
				t.Errorf("the pipelined POST answered %q; want its whole body", got)
			}
			if n := r.pl.Parked(); n != 1 {
				t.Errorf("%d connections parked while the first was serving; want 1 (the second)", n)
			}
		})
	}
}
