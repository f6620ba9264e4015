package gateway

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/testenv"
	"github.com/authgate/authgate/tokens"
)

// TestAccessLogKeepsNoSecrets sends requests carrying a bearer token, the
// session cookie, an application cookie and a password in the query —
// answered 200, 401 and 502, over HTTP/1.1 and HTTP/2 — and checks the
// whole log (debug level) for every one of those values, and each access
// log line for the fields an operator needs.
func TestAccessLogKeepsNoSecrets(t *testing.T) {
	b := newBackend(t, "app")
	g := newTestGateway(t)
	logs := &logBuffer{}
	dead := "http://" + testenv.RefusedAddr(t) // nothing listens there
	cfgFile := g.write(`routes:
  - name: app
    path: /app
    auth: required
    upstream: ` + b.URL + `
  - name: pub
    path: /pub
    auth: public
    upstream: ` + b.URL + `
  - name: dead
    path: /dead
    auth: public
    upstream: ` + dead + "\n")
	g.logTo = logs
	g.run(cfgFile)
	token := mintToken(t, cfgFile, tokens.IssueInput{SessionID: "sid-log", Username: "alice"}, "7")
	const (
		password  = "hunter2-Zq8"
		appCookie = "app-cookie-Vx93kP"
		bogusSig  = "Bogus-Signature-Q2w9"
	)
	bogus := strings.Join(strings.Split(token, ".")[:2], ".") + "." + bogusSig
	secrets := []string{token, password, appCookie, bogus, bogusSig, strings.Split(token, ".")[2]}

	type sent struct {
		path   string
		header http.Header
		want   int
	}
	var requests []sent
	var requestIDs []string
	for _, h2 := range []bool{false, true} {
		c := g.client(h2)
		for _, r := range []sent{
			{path: "/app/x", header: http.Header{"Authorization": {"Bearer " + token}}, want: 200},
			{path: "/app/x", header: http.Header{"Cookie": {"__Host-authgate=" + token + "; app=" + appCookie}}, want: 200},
			{path: "/app/x?password=" + password, header: http.Header{"Authorization": {"Bearer " + bogus}}, want: 401},
			{path: "/pub/reset?password=" + password + "&token=" + token, header: http.Header{"Cookie": {"app=" + appCookie}}, want: 200},
			{path: "/dead/x?password=" + password, header: http.Header{"Authorization": {"Bearer " + token}}, want: 502},
			{path: "/nowhere?password=" + password, want: 404},
		} {
			res, body := get(t, c, g.url(r.path), r.header)
			if res.StatusCode != r.want {
				t.Fatalf("GET %s = %d %q; want %d", r.path, res.StatusCode, body, r.want)
			}
			requests = append(requests, r)
			requestIDs = append(requestIDs, res.Header.Get("X-Request-Id"))
		}
	}

	// A line is written once the response is; the client may have it
	// first.
	testenv.WaitFor(t, "an access log line per request", func() bool {
		return strings.Count(logs.String(), `"msg":"request"`) >= len(requests)
	})
	out := logs.String()
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("the log contains the secret %.20q… in:\n%s", s, lastLine(out, s))
		}
	}

	var lines []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if m["msg"] == "request" {
			lines = append(lines, m)
		}
	}
	if len(lines) != len(requests) {
		t.Fatalf("%d access log lines for %d requests", len(lines), len(requests))
	}
	wantRoute := map[string]string{"/app/x": "app", "/pub/reset": "pub", "/dead/x": "dead", "/nowhere": ""}
	for i, m := range lines {
		for _, k := range []string{"route", "status", "duration_ms", "request_id", "upstream", "method", "path", "client_ip"} {
			if _, ok := m[k]; !ok {
				t.Errorf("access log line %d lacks %q: %v", i, k, m)
			}
		}
		path, _, _ := strings.Cut(requests[i].path, "?")
		if m["path"] != path || m["route"] != wantRoute[path] || m["status"] != float64(requests[i].want) ||
			m["request_id"] != requestIDs[i] {
			t.Errorf("access log line %d = path %v route %v status %v request_id %v; want %s %q %d %s",
				i, m["path"], m["route"], m["status"], m["request_id"], path, wantRoute[path], requests[i].want, requestIDs[i])
		}
		if d, ok := m["duration_ms"].(float64); !ok || d < 0 {
			t.Errorf("access log line %d: duration_ms = %v; want a number ≥ 0", i, m["duration_ms"])
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", out)
	}
}
