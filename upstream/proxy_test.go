package upstream

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/conf"
	"github.com/authgate/authgate/internal/problem"
	"github.com/prometheus/client_golang/prometheus"
)

func TestProxyErrors(t *testing.T) {
	errBoom := errors.New("client body broke")
	tests := []struct {
		name    string
		pool    PoolConfig
		handler http.HandlerFunc
		forward *Forward
		body    io.Reader
		want    error
		healthy bool // the target is still in rotation afterwards
	}{
		{
			name: "fail-slow-backend-times-out",
			pool: PoolConfig{Timeout: conf.Duration(50 * time.Millisecond)},
			handler: func(w http.ResponseWriter, r *http.Request) {
				<-r.Context().Done() // never answers
			},
			forward: &Forward{Path: "/"},
			want:    problem.ErrUpstreamTimeout,
			healthy: true, // slow is not dead
		},
		{
			name: "fail-connection-closed-before-response",
			handler: func(w http.ResponseWriter, r *http.Request) {
				c, _, _ := http.NewResponseController(w).Hijack()
				c.Close()
			},
			forward: &Forward{Path: "/"},
			want:    problem.ErrUpstreamUnavailable,
		},
		{
			name: "fail-client-body-is-not-the-targets-fault",
			handler: func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
			},
			forward: &Forward{Path: "/"},
			body:    io.MultiReader(strings.NewReader("some bytes"), iotestErrReader{errBoom}),
			want:    errBoom,
			healthy: true,
		},
		{
			name:    "fail-no-forward",
			handler: recordingHandler("b"),
			want:    errNoForward,
			healthy: true,
		},
		{
			name:    "fail-forward-without-path",
			handler: recordingHandler("b"),
			forward: &Forward{Path: "relative"},
			want:    errNoForward,
			healthy: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			back := newBackend(t, tt.handler)
			cfg := testConfig()
			tt.pool.Targets = []string{back.URL}
			cfg.Upstreams = map[string]PoolConfig{"app": tt.pool}
			u, el := newTestUpstreams(t, cfg, nil)
			h := mustHandler(t, u, "app", Route{})
			req := httptest.NewRequest(http.MethodPost, "/", tt.body)
			if tt.body != nil {
				req.ContentLength = -1
			}
			w := httptest.NewRecorder()
			h.Serve(w, req, tt.forward)
			if err := el.last(); !errors.Is(err, tt.want) {
				t.Errorf("ErrorWriter got %v; want %v", err, tt.want)
			}
			if tt.want != problem.ErrUpstreamUnavailable && errors.Is(el.last(), problem.ErrUpstreamUnavailable) {
				t.Errorf("ErrorWriter got %v; want it not to blame the upstream", el.last())
			}
			if got := poolOf(t, u, "app").targets[0].Healthy(); got != tt.healthy {
				t.Errorf("target Healthy() = %v; want %v", got, tt.healthy)
			}
		})
	}
}

type iotestErrReader struct{ err error }

func (r iotestErrReader) Read([]byte) (int, error) { return 0, r.err }

// TestProxyStreams checks that what the backend flushes reaches the client
// before the backend writes more: the backend waits for the client to have
// read the first part before it sends the second.
func TestProxyStreams(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		length      string // Content-Length the backend announces; "" streams chunked
	}{
		{name: "ok-server-sent-events", contentType: "text/event-stream"},
		// A response of known length is flushed at each backend write too
		// (the proxy's flushing writer), not only at the end.
		{name: "ok-known-length", contentType: "application/octet-stream", length: "22"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			readFirst := make(chan struct{})
			back := newBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.contentType)
				if tt.length != "" {
					w.Header().Set("Content-Length", tt.length)
				}
				io.WriteString(w, "data: one\n\n")
				http.NewResponseController(w).Flush()
				select {
				case <-readFirst:
				case <-r.Context().Done():
					return
				}
				io.WriteString(w, "data: two\n\n")
			}))
			u, _ := newTestUpstreams(t, testConfig(), nil)
			front := newFrontend(t, mustHandler(t, u, back.URL, Route{}), gatewayForward)
			// Runs before the servers close, so that a failing test
			// does not leave the backend waiting.
			release := sync.OnceFunc(func() { close(readFirst) })
			t.Cleanup(release)
			type first struct {
				res  *http.Response
				br   *bufio.Reader
				line string
				err  error
			}
			got := make(chan first, 1)
			go func() {
				res, err := front.Client().Get(front.URL + "/events")
				if err != nil {
					got <- first{err: err}
					return
				}
				br := bufio.NewReader(res.Body)
				line, err := br.ReadString('\n')
				got <- first{res, br, line, err}
			}()
			var f first
			select {
			case f = <-got:
			case <-time.After(10 * time.Second):
				// The backend holds the second part until we have read
				// the first: without the flush this never completes.
				t.Fatal("the first event never arrived while the backend held the second: the proxy buffers")
			}
			if f.err != nil {
				t.Fatalf("GET and read first line: %v", f.err)
			}
			defer f.res.Body.Close()
			if f.line != "data: one\n" {
				t.Fatalf("first line %q; want %q", f.line, "data: one\n")
			}
			br := f.br
			release()
			rest, err := io.ReadAll(br)
			if err != nil {
				t.Fatalf("reading the rest: %v", err)
			}
			if want := "\ndata: two\n\n"; string(rest) != want {
				t.Errorf("rest %q; want %q", rest, want)
			}
		})
	}
}

// TestProxyReusesConnections counts the connections the backend accepts:
// keep-alive connections must be reused, sequentially and under
// concurrency, instead of one being dialled per request.
func TestProxyReusesConnections(t *testing.T) {
	const workers, perWorker = 8, 50
	tests := []struct {
		name       string
		idle       int
		wantAtMost int64
		wantMore   bool // control: a too-small idle pool must show churn
	}{
		// A request waiting for a dial may be handed a connection freed
		// meanwhile, and the dialled one joins the pool: a few more than
		// the workers are normal; one per request is not.
		{name: "ok-pool-default", wantAtMost: 2 * workers},
		{name: "ok-control-idle-1-churns", idle: 1, wantMore: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var conns atomic.Int64
			back := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "ok")
			}))
			back.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					conns.Add(1)
				}
			}
			back.Start()
			t.Cleanup(back.Close)
			u, el := newTestUpstreams(t, Config{Upstreams: map[string]PoolConfig{"app": {
				Targets: []string{back.URL}, MaxIdleConnsPerTarget: tt.idle,
			}}}, nil)
			h := mustHandler(t, u, "app", Route{})
			serve := func() {
				w := httptest.NewRecorder()
				h.Serve(w, httptest.NewRequest(http.MethodGet, "/", nil), &Forward{Path: "/"})
				if w.Code != http.StatusOK {
					t.Errorf("status %d: %v", w.Code, el.last())
				}
			}

			for range 100 {
				serve()
			}
			if n := conns.Load(); n != 1 {
				t.Errorf("100 sequential requests opened %d connections; want 1", n)
			}
			var wg sync.WaitGroup
			for range workers {
				wg.Go(func() {
					for range perWorker {
						serve()
					}
				})
			}
			wg.Wait()
			n := conns.Load()
			t.Logf("%s: %d connections", tt.name, n)
			switch {
			case tt.wantMore && n <= 2*workers:
				t.Errorf("control: %d connections with 1 idle slot; want more than %d (the test would not catch churn)", n, 2*workers)
			case !tt.wantMore && n > tt.wantAtMost:
				t.Errorf("%d requests from %d workers opened %d connections; want at most %d", workers*perWorker, workers, n, tt.wantAtMost)
			}
		})
	}
}

func TestHandler(t *testing.T) {
	cfg := testConfig()
	cfg.Upstreams = map[string]PoolConfig{"users": {Targets: []string{"http://127.0.0.1:1"}}}
	u, _ := newTestUpstreams(t, cfg, nil)
	tests := []struct {
		name    string
		ref     string
		route   Route
		wantErr string
	}{
		{name: "ok-pool", ref: "users"},
		{name: "ok-url", ref: "http://127.0.0.1:3000"},
		{name: "ok-url-https-base-path", ref: "https://backend.internal/app/"},
		{name: "ok-echo", ref: BuiltinEcho},
		{name: "fail-unknown-pool", ref: "billing", wantErr: `"billing" is not defined under upstreams`},
		{name: "fail-url-scheme", ref: "ftp://host/", wantErr: `"ftp://host/" must be an http:// or https:// URL`},
		{name: "fail-url-no-host", ref: "http:///path", wantErr: `"http:///path" has no host`},
		{name: "fail-url-query", ref: "http://host/?a=1", wantErr: `"http://host/?a=1" must not have a query`},
		{name: "fail-url-unparsable", ref: "http://host:port/", wantErr: `"http://host:port/" is not a URL`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := u.Handler(tt.ref, tt.route)
			if got := errString(err); got != tt.wantErr {
				t.Errorf("Handler(%q) = %q; want %q", tt.ref, got, tt.wantErr)
			}
		})
	}
	a, b := poolOf(t, u, "http://127.0.0.1:3000"), mustHandler(t, u, "http://127.0.0.1:3000", Route{})
	if b.rp.Transport != a {
		t.Errorf("two routes naming the same URL got two pools; want one shared pool")
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		opts    func(*Options)
		wantErr string
	}{
		{name: "ok-empty", cfg: Config{}},
		{name: "ok-pools", cfg: Config{Upstreams: map[string]PoolConfig{
			"a": {Targets: []string{"http://10.0.0.5:8080", "https://10.0.0.6/base"}, Balance: "least_conn",
				HealthCheck: HealthCheck{Path: "/healthz?deep=1"}},
			"b": {Targets: []string{"http://b:1"}, Balance: "random"},
		}}},
		{name: "fail-every-problem-at-once", cfg: Config{
			IdentityHeaders: IdentityHeaders{Username: "X_User"},
			Upstreams: map[string]PoolConfig{
				"a": {Targets: []string{"http://x:1", "http://x:1", "mailto:x"}, Balance: "fastest", HealthCheck: HealthCheck{Path: "healthz"}},
				"b": {},
			},
		}, wantErr: strings.Join([]string{
			`identity_headers.username: "X_User" is not a valid header name: use letters, digits and - (RFC 9110 §5.1)`,
			`upstreams.a.targets[1]: duplicate of targets[0]`,
			`upstreams.a.targets[2]: "mailto:x" must be an http:// or https:// URL`,
			`upstreams.a.balance: "fastest" is not a balance policy: must be round_robin, least_conn or random`,
			`upstreams.a.health_check.path: "healthz" must start with "/"`,
			`upstreams.b.targets: at least one target is required, e.g. [http://10.0.0.5:8080]`,
		}, "\n")},
		{name: "fail-no-error-writer", opts: func(o *Options) { o.ErrorWriter = nil }, wantErr: "upstream: Options.ErrorWriter is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{ErrorWriter: (&errLog{}).write, Registerer: prometheus.NewRegistry()}
			if tt.opts != nil {
				tt.opts(&opts)
			}
			_, err := New(defaulted(tt.cfg), opts)
			if got := errString(err); got != tt.wantErr {
				t.Errorf("New() = %q;\nwant %q", got, tt.wantErr)
			}
		})
	}
}

// TestNewTwiceSameRegistry is a config reload: the second Upstreams
// registers its metrics over the first's.
func TestNewTwiceSameRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := Config{Upstreams: map[string]PoolConfig{"a": {Targets: []string{"http://10.0.0.5:8080"}}}}
	for i := range 2 {
		if _, err := New(defaulted(cfg), Options{ErrorWriter: (&errLog{}).write, Registerer: reg}); err != nil {
			t.Fatalf("New() #%d = %v; want nil", i+1, err)
		}
	}
	if got := metricValue(t, reg, "authgate_upstream_target_healthy", map[string]string{"pool": "a"}); got != 1 {
		t.Errorf("authgate_upstream_target_healthy{a} = %v; want 1", got)
	}
}

// TestCloseRetiresGauges: after a reload the old Upstreams' Close removes
// the health series of the targets the new one dropped, and leaves those
// the new one took over.
func TestCloseRetiresGauges(t *testing.T) {
	reg := prometheus.NewRegistry()
	opts := Options{ErrorWriter: (&errLog{}).write, Registerer: reg}
	old, err := New(defaulted(Config{Upstreams: map[string]PoolConfig{"a": {Targets: []string{"http://10.0.0.5:8080", "http://10.0.0.6:8080"}}}}), opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(defaulted(Config{Upstreams: map[string]PoolConfig{"a": {Targets: []string{"http://10.0.0.5:8080"}}}}), opts); err != nil {
		t.Fatal(err)
	}
	old.Close()
	series := func(target string) int {
		mfs, _ := reg.Gather()
		n := 0
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				for _, lp := range m.GetLabel() {
					if mf.GetName() == "authgate_upstream_target_healthy" && lp.GetName() == "target" && lp.GetValue() == target {
						n++
					}
				}
			}
		}
		return n
	}
	if n := series("http://10.0.0.6:8080"); n != 0 {
		t.Errorf("dropped target: %d health series after Close; want 0", n)
	}
	if n := series("http://10.0.0.5:8080"); n != 1 {
		t.Errorf("kept target: %d health series after Close; want 1 (the new Upstreams')", n)
	}
}

func TestMetricsDuration(t *testing.T) {
	back := newBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
		}
	}))
	reg := prometheus.NewRegistry()
	cfg := testConfig()
	cfg.Upstreams = map[string]PoolConfig{"app": {Targets: []string{back.URL}}}
	u, _ := newTestUpstreams(t, cfg, reg)
	h := mustHandler(t, u, "app", Route{})
	for _, path := range []string{"/", "/", "/", "/missing"} {
		w := httptest.NewRecorder()
		h.Serve(w, httptest.NewRequest(http.MethodGet, path, nil), &Forward{Path: path})
	}
	for code, want := range map[string]float64{"2xx": 3, "4xx": 1, "5xx": 0, "error": 0} {
		if got := metricValue(t, reg, "authgate_upstream_request_duration_seconds", map[string]string{"pool": "app", "code": code}); got != want {
			t.Errorf("authgate_upstream_request_duration_seconds{app,%s} count = %v; want %v", code, got, want)
		}
	}
}
