package upstream

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"

	"github.com/authgate/authgate/identity"
	"github.com/authgate/authgate/internal/problem"
	"github.com/prometheus/client_golang/prometheus"
)

var testCookies = []string{"__Host-authgate", "__Host-authgate-refresh"}

// testConfig is a config with every identity header on, as config
// validation's defaults plus an assertion header would leave it.
func testConfig() Config {
	return Config{IdentityHeaders: IdentityHeaders{
		UserID:    "X-Auth-User-Id",
		Username:  "X-Auth-User",
		Email:     "X-Auth-Email",
		Roles:     "X-Auth-Roles",
		Assertion: "X-Auth-Jwt",
	}}
}

func testIdentity() *identity.Identity {
	return identity.New(identity.Identity{
		UserID:   "42",
		Username: "alice",
		Email:    "alice@example.com",
		Roles:    []string{"dev", "admin"},
	})
}

// errLog is an Options.ErrorWriter that remembers every error and answers
// the way the gateway maps them (504 for a timeout, 502 otherwise).
type errLog struct {
	mu   sync.Mutex
	errs []error
}

func (l *errLog) write(w http.ResponseWriter, r *http.Request, err error) {
	l.mu.Lock()
	l.errs = append(l.errs, err)
	l.mu.Unlock()
	code := http.StatusBadGateway
	if errors.Is(err, problem.ErrUpstreamTimeout) {
		code = http.StatusGatewayTimeout
	}
	http.Error(w, err.Error(), code)
}

func (l *errLog) last() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errs) == 0 {
		return nil
	}
	return l.errs[len(l.errs)-1]
}

// newTestUpstreams builds Upstreams from cfg with a recording ErrorWriter
// and, when reg is non-nil, metrics.
func newTestUpstreams(t testing.TB, cfg Config, reg prometheus.Registerer) (*Upstreams, *errLog) {
	t.Helper()
	el := &errLog{}
	u, err := New(defaulted(cfg), Options{ErrorWriter: el.write, Registerer: reg, GatewayCookies: testCookies})
	if err != nil {
		t.Fatalf("New() = %v; want nil", err)
	}
	return u, el
}

// defaulted is cfg with the loader's defaults applied to what it leaves
// out (New runs the loader's Validate, and re-derives no default); the
// identity headers stay as cfg names them.
func defaulted(cfg Config) Config {
	cfg.SetDefaults(func(string) bool { return true })
	return cfg
}

// runUpstreams runs u's health checks until the test ends.
func runUpstreams(t testing.TB, u *Upstreams) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v; want nil", err)
		}
	})
}

func mustHandler(t testing.TB, u *Upstreams, ref string, route Route) *Proxy {
	t.Helper()
	h, err := u.Handler(ref, route)
	if err != nil {
		t.Fatalf("Handler(%q) = %v; want nil", ref, err)
	}
	return h
}

// received is what the recording backend saw.
type received struct {
	Method     string              `json:"method"`
	RequestURI string              `json:"request_uri"`
	Host       string              `json:"host"`
	Header     map[string][]string `json:"header"`
	BodyLen    int                 `json:"body_len"`
	Backend    string              `json:"backend"`
}

// recordingHandler answers with a JSON view of the request it received,
// header names as the server parsed them. name tells backends apart.
func recordingHandler(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h := map[string][]string(r.Header.Clone())
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(received{
			Method: r.Method, RequestURI: r.RequestURI, Host: r.Host,
			Header: h, BodyLen: len(b), Backend: name,
		})
	}
}

func newBackend(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

// gatewayForward is what the gateway would decide for r on a direct
// (untrusted) connection.
func gatewayForward(r *http.Request) *Forward {
	f := &Forward{Path: r.URL.Path, Proto: "https", Host: r.Host, RequestID: "req-1"}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		f.ClientIP = ap.Addr()
	}
	return f
}

// newFrontend serves p on a real listener, with the Forward that fwd
// builds for each request, as the gateway does.
func newFrontend(t testing.TB, p *Proxy, fwd func(r *http.Request) *Forward) *httptest.Server {
	t.Helper()
	return newBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.Serve(w, r, fwd(r))
	}))
}

// recordingFrontend serves, on a real listener, route "app" proxied to a
// backend that records what it receives, with the Forward of each request
// being gatewayForward's changed by set; it returns the frontend's address.
func recordingFrontend(t testing.TB, set func(f *Forward)) string {
	t.Helper()
	back := newBackend(t, recordingHandler("b"))
	u, _ := newTestUpstreams(t, testConfig(), nil)
	h := mustHandler(t, u, back.URL, Route{Name: "app"})
	front := newFrontend(t, h, func(r *http.Request) *Forward {
		f := gatewayForward(r)
		set(f)
		return f
	})
	return front.Listener.Addr().String()
}

// rawRequest writes raw to addr exactly as given and reads the response,
// so that header spellings Go's client would normalise reach the server.
func rawRequest(t testing.TB, addr, raw string) (*http.Response, []byte) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatalf("write request: %v", err)
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return res, body
}

func decodeReceived(t testing.TB, body []byte) received {
	t.Helper()
	var got received
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("backend answer %q: %v", body, err)
	}
	return got
}

// get sends GET url with the default client and returns status and body.
func get(t testing.TB, c *http.Client, url string) (int, []byte) {
	t.Helper()
	res, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", url, err)
	}
	return res.StatusCode, b
}

// metricValue reads one sample from reg: a counter's or gauge's value, or a
// histogram's sample count.
func metricValue(t testing.TB, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather() = %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue metrics
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	t.Fatalf("no sample %s%v", name, labels)
	return 0
}

// poolOf returns the pool behind a named or URL reference.
func poolOf(t testing.TB, u *Upstreams, ref string) *pool {
	t.Helper()
	if p, ok := u.pools[ref]; ok {
		return p
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if p, ok := u.implicit[ref]; ok {
		return p
	}
	t.Fatalf("no pool %q", ref)
	return nil
}
