package testenv

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
)

// get returns the status and body of GET url, failing the test on a
// transport error.
func get(t *testing.T, url, host string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s (Host %s): %v", url, host, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", url, err)
	}
	return resp.StatusCode, string(body)
}

const nginxHello = `
server {
    listen 127.0.0.1:{{.Port}};
    location / {
        return 200 "{{.Data}} on {{.Port}}";
    }
}
`

func TestStartNginx(t *testing.T) {
	var addr string
	t.Run("serve", func(t *testing.T) {
		n := StartNginx(t, nginxHello, "hello")
		addr = n.Addr
		code, body := get(t, "http://"+n.Addr+"/", "example.com")
		if want := "hello on " + strconv.Itoa(n.Port); code != http.StatusOK || body != want {
			t.Errorf("GET / = %d %q; want 200 %q\n%s", code, body, want, n.Log())
		}
	})
	// The subtest's cleanup stopped it.
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Errorf("nginx still accepts connections on %s after its test ended", addr)
	}
}

// TestStartNginxRetriesATakenPort takes the first port StartNginx picks,
// as another process might between the pick and nginx's bind: nginx fails
// with "Address already in use" and StartNginx must start it on another.
func TestStartNginxRetriesATakenPort(t *testing.T) {
	taken := 0
	n := startNginx(t, nginxHello, "hello", func(port int) {
		if taken != 0 {
			return
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		taken = port
	})
	if n.Port == taken {
		t.Fatalf("nginx runs on %d, the port the test held", taken)
	}
	if code, body := get(t, "http://"+n.Addr+"/", "example.com"); code != http.StatusOK {
		t.Errorf("GET / = %d %q; want 200\n%s", code, body, n.Log())
	}
}
