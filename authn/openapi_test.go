package authn

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// The OpenAPI document is checked three ways: it is a valid OpenAPI 3.1
// document (kin-openapi, JSON Schema 2020-12 for 3.1); every endpoint the
// handler routes is in it and nothing else; and every request the flow
// tests send and every answer they get is validated against it
// (docChecker), so the document cannot drift from the handlers.

// loadOpenAPI parses and validates a document.
func loadOpenAPI(t *testing.T, data []byte) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		t.Fatalf("load openapi.json: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI document: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi.json is OpenAPI %s; want 3.1", doc.OpenAPI)
	}
	return doc
}

// docChecker wraps the API handler and validates every exchange against
// the document the service serves.
type docChecker struct {
	t       *testing.T
	h       http.Handler
	routers []routers.Router // the document's servers, then path items with servers of their own
	prefix  string

	mu  sync.Mutex
	ops map[string]int // operationId → exchanges validated
}

// checkedHandler returns s's handler wrapped in a docChecker.
func checkedHandler(t *testing.T, s *Service) *docChecker {
	t.Helper()
	doc := loadOpenAPI(t, s.web.openapi)
	main, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatalf("router from openapi.json: %v", err)
	}
	c := &docChecker{t: t, h: s.Handler(), routers: []routers.Router{main}, prefix: s.web.prefix, ops: map[string]int{}}
	// legacy's router knows only the document's servers; a path item with
	// servers of its own (/.well-known/jwks.json) gets a router of its own.
	for path, item := range doc.Paths.Map() {
		if len(item.Servers) == 0 {
			continue
		}
		sub := *doc
		sub.Servers = item.Servers
		sub.Paths = openapi3.NewPaths(openapi3.WithPath(path, item))
		r, err := legacy.NewRouter(&sub)
		if err != nil {
			t.Fatalf("router for %s: %v", path, err)
		}
		c.routers = append(c.routers, r)
	}
	return c
}

func (c *docChecker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, r)
	c.check(r, body, rec)
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

// undocumented are the paths under the prefix that serve static files.
func (c *docChecker) undocumented(path string) bool {
	return path == c.prefix+"/login.css" || strings.HasPrefix(path, c.prefix+"/docs/")
}

func (c *docChecker) check(r *http.Request, body []byte, rec *httptest.ResponseRecorder) {
	c.t.Helper()
	if c.undocumented(r.URL.Path) || rec.Code == http.StatusNotFound || rec.Code == http.StatusMethodNotAllowed {
		return
	}
	req := httptest.NewRequest(r.Method, r.URL.RequestURI(), bytes.NewReader(body))
	req.Header = r.Header.Clone()
	var route *routers.Route
	var params map[string]string
	for _, router := range c.routers {
		var err error
		if route, params, err = router.FindRoute(req); err == nil {
			break
		}
	}
	if route == nil {
		c.t.Errorf("openapi.json: %s %s (answered %d) is not documented", r.Method, r.URL.Path, rec.Code)
		return
	}
	ctx := context.Background()
	in := &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true},
	}
	// A request the handler accepted must be one the document allows;
	// refused ones are often deliberately invalid.
	if rec.Code < 400 {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			c.t.Errorf("openapi.json: request %s %s answered %d does not match the document: %v", r.Method, r.URL.RequestURI(), rec.Code, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: rec.Code, Header: rec.Header(),
		Body:    io.NopCloser(bytes.NewReader(rec.Body.Bytes())),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		c.t.Errorf("openapi.json: response %d to %s %s does not match the document: %v\nbody: %s", rec.Code, r.Method, r.URL.RequestURI(), err, rec.Body.Bytes())
	}
	c.mu.Lock()
	c.ops[route.Operation.OperationID]++
	c.mu.Unlock()
}

// covered returns the operations validated so far.
func (c *docChecker) covered() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ops []string
	for op := range c.ops {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	return ops
}

func TestOpenAPIDocument(t *testing.T) {
	loadOpenAPI(t, openAPIJSON)

	s := sqliteService(t, func(c *stackConfig) { c.AuthAPI.Prefix = "/sso/v1"; c.AuthAPI.CookieName = "sid" })
	doc := loadOpenAPI(t, s.web.openapi)
	if got := doc.Servers[0].URL; got != "/sso/v1" {
		t.Errorf("servers[0].url = %q; want /sso/v1", got)
	}
	flow := doc.Components.SecuritySchemes["oauth2"].Value.Flows.Password
	if flow.TokenURL != "/sso/v1/login" || flow.RefreshURL != "/sso/v1/refresh" {
		t.Errorf("oauth2 password flow URLs = %q, %q; want /sso/v1/login, /sso/v1/refresh", flow.TokenURL, flow.RefreshURL)
	}
	for scheme, want := range map[string]string{"cookieAuth": "__Host-sid", "refreshCookie": "__Secure-sid-refresh"} {
		if got := doc.Components.SecuritySchemes[scheme].Value.Name; got != want {
			t.Errorf("securitySchemes.%s.name = %q; want %q", scheme, got, want)
		}
	}
	if bytes.Contains(s.web.openapi, []byte(`"/auth`)) || bytes.Contains(s.web.openapi, []byte("-authgate")) {
		t.Errorf("the document for prefix /sso/v1 and cookie sid still names /auth or the authgate cookies")
	}

	// Served, with the configured prefix.
	res, body := serve(t, s.Handler(), apiRequest(http.MethodGet, "/sso/v1/openapi.json", "", ""))
	wantStatus(t, "GET openapi.json", res, body, http.StatusOK)
	if !bytes.Equal(body, s.web.openapi) {
		t.Errorf("GET /sso/v1/openapi.json is not the substituted document")
	}

	// Every routed endpoint is documented, and every documented one routed.
	var routed []string
	for _, ep := range s.web.endpoints {
		if ep.path == "/login.css" || ep.path == "/docs/{asset}" {
			continue
		}
		routed = append(routed, ep.method+" "+ep.path)
	}
	routed = append(routed, "GET /.well-known/jwks.json")
	var documented []string
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			// The OAuth2 provider's endpoints are served by package
			// provider, which the gateway mounts beside this API, and the
			// forward-auth check by the gateway itself.
			if !slices.Contains(op.Tags, "oauth2") && !slices.Contains(op.Tags, "forward-auth") {
				documented = append(documented, method+" "+path)
			}
		}
	}
	slices.Sort(routed)
	slices.Sort(documented)
	if !slices.Equal(routed, documented) {
		t.Errorf("routed endpoints %q\ndocumented operations %q", routed, documented)
	}
}
