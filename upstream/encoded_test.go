package upstream

import (
	"net/http"
	"net/url"
	"reflect"
	"testing"

	"github.com/authgate/authgate/identity"
)

// A username or email that is not visible ASCII reaches the backend raw,
// as before, and also percent-encoded in the -Encoded companion, which
// decodes back to the same string; an ASCII identity gets no companion;
// a client's companion never passes.
func TestProxyEncodedIdentityHeaders(t *testing.T) {
	tests := []struct {
		name string
		id   identity.Identity
		want map[string][]string
	}{
		{
			name: "ok-ascii-no-companion",
			id:   identity.Identity{UserID: "42", Username: "alice", Email: "alice@example.com", Roles: []string{"dev"}},
			want: map[string][]string{"X-Auth-User": {"alice"}, "X-Auth-User-Encoded": nil, "X-Auth-Email-Encoded": nil, "X-Auth-Roles-Encoded": nil},
		},
		{
			name: "ok-han-username",
			id:   identity.Identity{UserID: "43", Username: "张三", Email: "zhang@example.com"},
			want: map[string][]string{
				"X-Auth-User":          {"张三"},
				"X-Auth-User-Encoded":  {"%E5%BC%A0%E4%B8%89"},
				"X-Auth-Email-Encoded": nil,
			},
		},
		{
			name: "ok-accented-email",
			id:   identity.Identity{UserID: "44", Username: "jose", Email: "josé@example.com"},
			want: map[string][]string{
				"X-Auth-Email":         {"josé@example.com"},
				"X-Auth-Email-Encoded": {"jos%C3%A9@example.com"},
				"X-Auth-User-Encoded":  nil,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := recordingFrontend(t, func(f *Forward) {
				f.Identity = identity.New(tt.id)
			})
			res, body := rawRequest(t, addr,
				"GET /x HTTP/1.1\r\nHost: app.example.com\r\nX-Auth-User-Encoded: mallory\r\nX_Auth_Email_Encoded: root%40evil.test\r\n\r\n")
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status = %d; want 200 (%s)", res.StatusCode, body)
			}
			got := decodeReceived(t, body)
			for k, want := range tt.want {
				if v := got.Header[k]; !reflect.DeepEqual(v, want) {
					t.Errorf("backend got %s = %q; want %q", k, v, want)
				}
			}
			if got.Header["X_Auth_Email_Encoded"] != nil {
				t.Errorf("a client's X_Auth_Email_Encoded reached the backend")
			}
			for raw, enc := range map[string]string{"X-Auth-User": "X-Auth-User-Encoded", "X-Auth-Email": "X-Auth-Email-Encoded"} {
				if e := got.Header[enc]; len(e) == 1 {
					if dec, err := url.PathUnescape(e[0]); err != nil || dec != got.Header[raw][0] {
						t.Errorf("%s = %q decodes to %q, %v; want %q", enc, e[0], dec, err, got.Header[raw][0])
					}
				}
			}
		})
	}
}
