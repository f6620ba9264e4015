package upstream

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
)

// BuiltinEcho is the upstream reference of the built-in echo backend.
const BuiltinEcho = "builtin:echo"

// echoTransport is the built-in echo backend. It sits where a pool would,
// behind the same ReverseProxy and Rewrite, so what it reports is exactly
// what a real upstream would receive.
type echoTransport struct {
	route string
}

var _ http.RoundTripper = echoTransport{}

// echoView is the JSON answer of builtin:echo.
type echoView struct {
	Route      string              `json:"route,omitempty"`
	Method     string              `json:"method"`
	Path       string              `json:"path"`        // decoded
	URI        string              `json:"uri"`         // the request-target as sent: path escaped once, query as is
	RawQuery   string              `json:"raw_query"`   //
	Host       string              `json:"host"`        // the Host header (the client's: echo has no target host)
	RemoteAddr string              `json:"remote_addr"` // the gateway's peer
	Headers    map[string][]string `json:"headers"`     // after the proxy's rewrite; JSON sorts the names
	BodyLength int64               `json:"body_length"`
}

func (e echoTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var n int64
	if req.Body != nil {
		var err error
		n, err = io.Copy(io.Discard, req.Body)
		req.Body.Close()
		if err != nil {
			return nil, &bodyError{err: err}
		}
	}
	hdr := make(map[string][]string, len(req.Header))
	for k, v := range req.Header {
		if k == "User-Agent" && len(v) == 1 && v[0] == "" {
			continue // ReverseProxy's way of saying "send none"
		}
		hdr[k] = v
	}
	b, err := json.MarshalIndent(echoView{
		Route:      e.route,
		Method:     req.Method,
		Path:       req.URL.Path,
		URI:        req.URL.RequestURI(),
		RawQuery:   req.URL.RawQuery,
		Host:       req.Host,
		RemoteAddr: req.RemoteAddr,
		Headers:    hdr,
		BodyLength: n,
	}, "", "  ")
	if err != nil {
		return nil, err
	}
	b = append(b, '\n')
	return &http.Response{
		Status:     "200 OK",
		StatusCode: http.StatusOK,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header: http.Header{
			"Content-Type":           {"application/json"},
			"Content-Length":         {strconv.Itoa(len(b))},
			"X-Content-Type-Options": {"nosniff"},
			"Cache-Control":          {"no-store"},
		},
		Body:          io.NopCloser(bytes.NewReader(b)),
		ContentLength: int64(len(b)),
		Request:       req,
	}, nil
}
