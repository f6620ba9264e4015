package problem

import (
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestWrite(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantDetail string
		wantHeader map[string]string
		wantKnown  bool
	}{
		{name: "ok-no-credentials", err: ErrNoCredentials, wantStatus: 401, wantDetail: "Not authenticated",
			wantHeader: map[string]string{"WWW-Authenticate": `Bearer realm="authgate"`}, wantKnown: true},
		{name: "ok-wrapped-invalid-token", err: fmt.Errorf("%w: expired", ErrInvalidToken), wantStatus: 401, wantDetail: "Could not validate credentials",
			wantHeader: map[string]string{"WWW-Authenticate": `Bearer realm="authgate", error="invalid_token"`}, wantKnown: true},
		{name: "ok-revoked-before-invalid", err: fmt.Errorf("%w: %w", ErrInvalidToken, ErrTokenRevoked), wantStatus: 401, wantDetail: "Token has been revoked", wantKnown: true},
		{name: "ok-forbidden", err: ErrForbidden, wantStatus: 403, wantDetail: "Not enough permissions",
			wantHeader: map[string]string{"WWW-Authenticate": `Bearer realm="authgate", error="insufficient_scope"`}, wantKnown: true},
		{name: "ok-503-retry", err: ErrDenylistUnavailable, wantStatus: 503, wantHeader: map[string]string{"Retry-After": "1"}, wantKnown: true},
		{name: "ok-408", err: ErrRequestTimeout, wantStatus: 408, wantDetail: "Request body not received in time", wantKnown: true},
		{name: "ok-own-text", err: fmt.Errorf("%w: the body is empty", ErrMalformedRequest), wantStatus: 400,
			wantDetail: "malformed request body: the body is empty", wantKnown: true},
		{name: "ok-throttled", err: &ThrottledError{RetryAfter: 1500 * time.Millisecond}, wantStatus: 429,
			wantHeader: map[string]string{"Retry-After": "2"}, wantKnown: true},
		{name: "ok-validation", err: &ValidationError{Field: "password", Msg: "too short"}, wantStatus: 422, wantDetail: "password: too short", wantKnown: true},
		{name: "ok-upstream-timeout", err: fmt.Errorf("%w: pool users", ErrUpstreamTimeout), wantStatus: 504, wantKnown: true},
		{name: "fail-unknown", err: errors.New("pq: relation does not exist"), wantStatus: 500, wantDetail: "Internal error", wantKnown: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			known := Write(rec, httptest.NewRequest(http.MethodGet, "/", nil), tt.err)
			if known != tt.wantKnown {
				t.Errorf("Write(%v) = %v; want %v", tt.err, known, tt.wantKnown)
			}
			if rec.Code != tt.wantStatus {
				t.Errorf("Write(%v): status %d; want %d", tt.err, rec.Code, tt.wantStatus)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q; want application/problem+json", ct)
			}
			var doc document
			if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			if doc.Status != tt.wantStatus || doc.Type != "about:blank" || doc.Title != http.StatusText(tt.wantStatus) {
				t.Errorf("document %+v; want status %d, about:blank and its text", doc, tt.wantStatus)
			}
			if tt.wantDetail != "" && doc.Detail != tt.wantDetail {
				t.Errorf("detail %q; want %q", doc.Detail, tt.wantDetail)
			}
			for k, v := range tt.wantHeader {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("%s: %q; want %q", k, got, v)
				}
			}
		})
	}
}

func TestWriteValidationErrors(t *testing.T) {
	rec := httptest.NewRecorder()
	Write(rec, httptest.NewRequest(http.MethodPost, "/", nil), &ValidationError{Field: "email", Msg: "field required"})
	var doc document
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Errors) != 1 || strings.Join(doc.Errors[0].Loc, ".") != "body.email" || doc.Errors[0].Msg != "field required" {
		t.Errorf("errors = %+v; want [{loc: [body email], msg: field required}]", doc.Errors)
	}
}

// TestWriteLogged: an unexpected error is logged with the request id and
// its text, and answered without either.
func TestWriteLogged(t *testing.T) {
	var log strings.Builder
	logger := slog.New(slog.NewTextHandler(&log, nil))
	rec := httptest.NewRecorder()
	rec.Header().Set("X-Request-Id", "req-7")
	WriteLogged(rec, httptest.NewRequest(http.MethodGet, "/", nil), errors.New("disk on fire"), logger)
	if !strings.Contains(log.String(), "req-7") || !strings.Contains(log.String(), "disk on fire") {
		t.Errorf("log %q; want the request id and the error", log.String())
	}
	if strings.Contains(rec.Body.String(), "disk on fire") {
		t.Errorf("answer %q shows the cause", rec.Body)
	}
	log.Reset()
	WriteLogged(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil), ErrNotFound, logger)
	if log.Len() != 0 {
		t.Errorf("an expected outcome was logged: %q", log.String())
	}
}

// TestEverySentinelAnswered: every Err… declared in errors.go has a row
// in the table, so none is answered 500 by accident.
func TestEverySentinelAnswered(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]error{}
	for _, row := range table {
		values[row.err.Error()] = row.err
	}
	n := 0
	ast.Inspect(f, func(node ast.Node) bool {
		vs, ok := node.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for _, name := range vs.Names {
			if !strings.HasPrefix(name.Name, "Err") {
				continue
			}
			n++
			lit := vs.Values[0].(*ast.CallExpr).Args[0].(*ast.BasicLit).Value
			if _, ok := values[strings.Trim(lit, `"`)]; !ok {
				t.Errorf("%s (%s) has no row in the table", name.Name, lit)
			}
		}
		return true
	})
	if n != len(table) {
		t.Errorf("errors.go declares %d sentinels; the table has %d rows", n, len(table))
	}
}
