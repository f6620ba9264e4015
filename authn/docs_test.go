package authn

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
)

var pageRefRE = regexp.MustCompile(`(?:src|href|data-spec-url)="([^"]*)"`)

func TestDocs(t *testing.T) {
	for _, prefix := range []string{"/auth", "/sso/v1"} {
		t.Run(strings.TrimPrefix(prefix, "/"), func(t *testing.T) {
			s := sqliteService(t, func(c *stackConfig) { c.AuthAPI.Prefix = prefix })
			h := s.Handler()
			res, body := serve(t, h, apiRequest(http.MethodGet, prefix+"/docs", "", ""))
			wantStatus(t, "GET docs", res, body, http.StatusOK)
			for k, want := range map[string]string{
				"Content-Type":            "text/html; charset=utf-8",
				"Content-Security-Policy": docsCSP,
				"X-Frame-Options":         "DENY",
				"X-Content-Type-Options":  "nosniff",
			} {
				if got := res.Header.Get(k); got != want {
					t.Errorf("docs: %s = %q; want %q", k, got, want)
				}
			}
			page := string(body)
			if strings.Contains(page, "http://") || strings.Contains(page, "https://") || strings.Contains(page, "<script>") {
				t.Errorf("the docs page names another origin or has inline script:\n%s", page)
			}
			refs := pageRefRE.FindAllStringSubmatch(page, -1)
			if len(refs) < 5 {
				t.Fatalf("docs page references %d resources; want the stylesheet, icons, scripts and the document", len(refs))
			}
			for _, m := range refs {
				ref := m[1]
				if !strings.HasPrefix(ref, prefix+"/docs/") && ref != prefix+"/openapi.json" {
					t.Errorf("docs page references %q, outside %s/docs/", ref, prefix)
					continue
				}
				res, body := serve(t, h, apiRequest(http.MethodGet, ref, "", ""))
				wantStatus(t, "GET "+ref, res, body, http.StatusOK)
				if len(body) == 0 {
					t.Errorf("GET %s: empty", ref)
				}
			}
		})
	}
}

func TestDocsAssets(t *testing.T) {
	s := sqliteService(t, nil)
	h := s.Handler()
	want, err := os.ReadFile("web/swagger/swagger-ui-bundle.js")
	if err != nil {
		t.Fatal(err)
	}
	get := func(headers map[string]string) (*http.Response, []byte) {
		r := apiRequest(http.MethodGet, "/auth/docs/swagger-ui-bundle.js", "", "")
		for k, v := range headers {
			r.Header.Set(k, v)
		}
		return serve(t, h, r)
	}

	res, body := get(nil)
	wantStatus(t, "bundle", res, body, http.StatusOK)
	if !bytes.Equal(body, want) || res.Header.Get("Content-Type") != "text/javascript; charset=utf-8" || res.Header.Get("Content-Encoding") != "" {
		t.Errorf("bundle without gzip: %d bytes, Content-Type %q, Content-Encoding %q", len(body), res.Header.Get("Content-Type"), res.Header.Get("Content-Encoding"))
	}
	etag := res.Header.Get("ETag")

	res, body = get(map[string]string{"Accept-Encoding": "br, gzip;q=0.8"})
	wantStatus(t, "bundle, gzip", res, body, http.StatusOK)
	if res.Header.Get("Content-Encoding") != "gzip" || len(body) >= len(want)/2 {
		t.Fatalf("bundle with gzip: Content-Encoding %q, %d bytes of %d", res.Header.Get("Content-Encoding"), len(body), len(want))
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if plain, err := io.ReadAll(zr); err != nil || !bytes.Equal(plain, want) {
		t.Errorf("gzipped bundle does not decompress to the file: %v", err)
	}
	res, body = get(map[string]string{"Accept-Encoding": "gzip;q=0"})
	if res.Header.Get("Content-Encoding") != "" || !bytes.Equal(body, want) {
		t.Errorf("gzip;q=0 got Content-Encoding %q", res.Header.Get("Content-Encoding"))
	}

	res, body = get(map[string]string{"If-None-Match": etag})
	wantStatus(t, "bundle, If-None-Match", res, body, http.StatusNotModified)
	if len(body) != 0 {
		t.Errorf("304 with a body")
	}

	version, err := os.ReadFile("web/swagger/VERSION")
	if err != nil || !strings.HasPrefix(string(version), "swagger-ui-dist 5.35.0\n") || !bytes.Contains(want, []byte(`"5.35.0"`)) {
		t.Errorf("web/swagger/VERSION does not match the bundle's version: %q", version)
	}
}
