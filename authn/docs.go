package authn

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"sync"

	"github.com/authgate/authgate/internal/problem"
)

// Swagger UI at {prefix}/docs, from swagger-ui-dist (the version is in
// web/swagger/VERSION), embedded: the page loads nothing from anywhere but
// our own origin, and its CSP says so.

//go:embed web/swagger/index.html web/swagger/swagger-initializer.js web/swagger/swagger-ui.css web/swagger/swagger-ui-bundle.js web/swagger/favicon-16x16.png web/swagger/favicon-32x32.png
var swaggerFiles embed.FS

// docsCSP allows Swagger UI what it needs, from 'self' only: its script
// and stylesheet, the inline SVG icons of its stylesheet (data: images), and
// fetching the document and "Try it out" requests. Styles need no
// 'unsafe-inline' (React sets them through the CSSOM); checked in headless
// Chromium with a report-uri and an operation expanded: no violation.
const docsCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// docsAssets are the files under {prefix}/docs/, by name, and the page.
type docsAssets struct {
	index  []byte
	assets map[string]*docsAsset
}

// docsAsset is one embedded file, served with an ETag and, to clients that
// accept it, gzip-compressed (compressed on first use: most processes never
// serve the docs).
type docsAsset struct {
	data  []byte
	ctype string
	etag  string

	gzOnce sync.Once
	gz     []byte
}

func newDocsAssets(prefix string) (docsAssets, error) {
	tpl, err := template.ParseFS(swaggerFiles, "web/swagger/index.html")
	if err != nil {
		return docsAssets{}, err
	}
	var index bytes.Buffer
	if err := tpl.Execute(&index, struct{ Prefix string }{prefix}); err != nil {
		return docsAssets{}, err
	}
	d := docsAssets{index: index.Bytes(), assets: map[string]*docsAsset{}}
	for name, ctype := range map[string]string{
		"swagger-ui.css":         "text/css; charset=utf-8",
		"swagger-ui-bundle.js":   "text/javascript; charset=utf-8",
		"swagger-initializer.js": "text/javascript; charset=utf-8",
		"favicon-16x16.png":      "image/png",
		"favicon-32x32.png":      "image/png",
	} {
		data, err := swaggerFiles.ReadFile("web/swagger/" + name)
		if err != nil {
			return docsAssets{}, err
		}
		sum := sha256.Sum256(data)
		d.assets[name] = &docsAsset{data: data, ctype: ctype, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`}
	}
	return d, nil
}

// handleDocs is GET {prefix}/docs: the Swagger UI page.
func (s *Service) handleDocs(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", docsCSP)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	w.Write(s.web.docs.index)
}

// handleDocsAsset is GET {prefix}/docs/{asset}.
func (s *Service) handleDocsAsset(w http.ResponseWriter, r *http.Request) {
	a, ok := s.web.docs.assets[r.PathValue("asset")]
	if !ok {
		s.fail(w, r, problem.ErrNotFound)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("ETag", a.etag)
	h.Set("Vary", "Accept-Encoding")
	// The file changes only with an authgate release; revalidation is a
	// cheap 304.
	h.Set("Cache-Control", "public, max-age=3600")
	if r.Header.Get("If-None-Match") == a.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := a.data
	if acceptsGzip(r) && len(a.data) > 1024 {
		body = a.gzipped()
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

func (a *docsAsset) gzipped() []byte {
	a.gzOnce.Do(func() {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // a valid level: no error
		zw.Write(a.data)
		zw.Close()
		a.gz = buf.Bytes()
	})
	return a.gz
}

// acceptsGzip reports whether r accepts gzip with a non-zero q.
func acceptsGzip(r *http.Request) bool {
	for _, line := range r.Header.Values("Accept-Encoding") {
		for part := range strings.SplitSeq(line, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
				continue
			}
			q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}
