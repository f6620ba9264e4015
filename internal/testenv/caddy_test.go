package testenv

import (
	"net"
	"net/http"
	"testing"
)

const caddySites = `
http://app.example.com:{{.Port}} {
	respond "app {{.Data}}"
}

http://other.example.com:{{.Port}} {
	respond "other {{.Data}}"
}
`

func TestStartCaddy(t *testing.T) {
	var addr string
	t.Run("serve", func(t *testing.T) {
		c := StartCaddy(t, caddySites, "hello")
		addr = c.Addr
		for _, tt := range []struct{ host, want string }{
			{"app.example.com", "app hello"},
			{"other.example.com", "other hello"},
		} {
			if code, body := get(t, "http://"+c.Addr+"/", tt.host); code != http.StatusOK || body != tt.want {
				t.Errorf("GET / (Host %s) = %d %q; want 200 %q\n%s", tt.host, code, body, tt.want, c.Log())
			}
		}
	})
	// The subtest's cleanup stopped it.
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Errorf("caddy still accepts connections on %s after its test ended", addr)
	}
}
