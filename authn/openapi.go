package authn

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
)

// The OpenAPI 3.1 document of the auth API, hand-written in openapi.json
// and checked against real requests and responses by the tests, so that it
// cannot drift from the handlers.
//
// It is written for the defaults (prefix /auth, cookie name authgate);
// openAPIDocument fills in the configured values. Every JSON string that
// starts with "/auth" is a URL under the prefix (the server URL, the OAuth2
// token URLs), and the cookie names appear only as the security schemes'
// names.

//go:embed openapi.json
var openAPIJSON []byte

// openAPIDocument returns the document for prefix and cookie name. Both
// were validated to hold no character that needs escaping in JSON.
func openAPIDocument(prefix, cookieName string) ([]byte, error) {
	doc := openAPIJSON
	for _, r := range []struct{ from, to string }{
		{`"/auth"`, `"` + prefix + `"`},
		{`"/auth/`, `"` + prefix + `/`},
		{`"__Host-authgate"`, `"__Host-` + cookieName + `"`},
		{`"__Secure-authgate-refresh"`, `"__Secure-` + cookieName + `-refresh"`},
	} {
		if !bytes.Contains(doc, []byte(r.from)) {
			return nil, fmt.Errorf("openapi.json: %s not found", r.from)
		}
		doc = bytes.ReplaceAll(doc, []byte(r.from), []byte(r.to))
	}
	if !json.Valid(doc) {
		return nil, fmt.Errorf("openapi.json: not valid JSON after substituting the prefix")
	}
	return doc, nil
}

// handleOpenAPI is GET {prefix}/openapi.json.
func (s *Service) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age=300")
	w.WriteHeader(http.StatusOK)
	w.Write(s.web.openapi)
}
