package authn

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strings"

	"github.com/authgate/authgate/internal/problem"
)

// maxBodyBytes caps every request body of the auth API. The largest
// legitimate one (a registration) is well under 1 KiB.
const maxBodyBytes = 64 << 10

// bodyKind is what a request body turned out to be.
type bodyKind uint8

const (
	bodyNone bodyKind = iota // no body at all
	bodyJSON                 // application/json
	bodyForm                 // application/x-www-form-urlencoded
)

// requestBody is a read, size-checked body of a known kind.
type requestBody struct {
	kind bodyKind
	data []byte     // bodyJSON: the raw JSON
	form url.Values // bodyForm: the parsed form (the body's fields only)
}

// readBody reads r's body, at most maxBodyBytes, and checks its media type:
// JSON always, a form when form is true. An empty body with no
// Content-Type is bodyNone. Errors: problem.ErrRequestTooLarge,
// problem.ErrUnsupportedMedia, problem.ErrMalformedRequest.
func readBody(w http.ResponseWriter, r *http.Request, form bool) (requestBody, error) {
	if r.ContentLength > maxBodyBytes {
		return requestBody{}, problem.ErrRequestTooLarge
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err == nil {
		// On a failed read the deadline stays: net/http would otherwise
		// go on reading what is left of the body after we answer.
		liftReadDeadline(w)
	}
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return requestBody{}, problem.ErrRequestTooLarge
	}
	if isReadTimeout(err) {
		return requestBody{}, problem.ErrRequestTimeout
	}
	if err != nil {
		return requestBody{}, fmt.Errorf("%w: reading the body: %w", problem.ErrMalformedRequest, err)
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		if len(data) == 0 {
			return requestBody{kind: bodyNone}, nil
		}
		return requestBody{}, fmt.Errorf("%w: the body has no Content-Type", problem.ErrUnsupportedMedia)
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return requestBody{}, fmt.Errorf("%w: Content-Type cannot be parsed", problem.ErrUnsupportedMedia)
	}
	// JSON is UTF-8 (RFC 8259 §8.1); a form's charset is ours to define.
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return requestBody{}, fmt.Errorf("%w: charset must be utf-8", problem.ErrUnsupportedMedia)
	}
	switch {
	case mt == "application/json":
		if len(bytes.TrimSpace(data)) == 0 {
			return requestBody{}, fmt.Errorf("%w: the body is empty; send a JSON object", problem.ErrMalformedRequest)
		}
		return requestBody{kind: bodyJSON, data: data}, nil
	case mt == "application/x-www-form-urlencoded" && form:
		vals, err := url.ParseQuery(string(data))
		if err != nil {
			return requestBody{}, fmt.Errorf("%w: the form cannot be parsed: %w", problem.ErrMalformedRequest, err)
		}
		// RFC 6749 §3.1: parameters must not be included more than once.
		for k, v := range vals {
			if len(v) > 1 {
				return requestBody{}, fmt.Errorf("%w: form field %q is repeated", problem.ErrMalformedRequest, k)
			}
		}
		return requestBody{kind: bodyForm, form: vals}, nil
	}
	return requestBody{}, fmt.Errorf("%w: %s", problem.ErrUnsupportedMedia, mt)
}

// decodeJSON decodes one JSON object into v. Syntax is strict (one value,
// nothing after it); unknown fields are ignored, as the FastAPI original
// did. A field of the wrong type is a *problem.ValidationError naming it.
func decodeJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: unexpected data after the JSON object", problem.ErrMalformedRequest)
	}
	return nil
}

func jsonError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Errorf("%w: invalid JSON at byte %d: %s", problem.ErrMalformedRequest, syntax.Offset, syntax.Error())
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: the JSON ends too early", problem.ErrMalformedRequest)
	case errors.As(err, &typ) && typ.Field == "":
		return fmt.Errorf("%w: the body must be a JSON object, not %s", problem.ErrMalformedRequest, typ.Value)
	case errors.As(err, &typ):
		return &problem.ValidationError{Field: typ.Field, Msg: "must be " + jsonTypeName(typ.Type)}
	}
	return fmt.Errorf("%w: %w", problem.ErrMalformedRequest, err)
}

func jsonTypeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Float64:
		return "a number"
	}
	return "a " + t.Kind().String()
}

// required returns *v, or the 422 of a missing field. JSON null, an absent
// field and an empty string are all "field required" (FastAPI's words).
func required(field string, v *string) (string, error) {
	if v == nil || *v == "" {
		return "", &problem.ValidationError{Field: field, Msg: "field required"}
	}
	return *v, nil
}

// formField returns a form field, or the 422 of a missing one.
func formField(form url.Values, field string) (string, error) {
	v := form.Get(field)
	return required(field, &v)
}

// writeJSON answers with status and v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only our own types reach here; they always marshal.
		panic(fmt.Sprintf("authn: marshal %T: %v", v, err))
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", fmt.Sprint(len(body)+1))
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}

type clientIPKey struct{}

// WithClientIP returns r carrying the client address the gateway
// established (from the TCP peer, or from trusted proxies' headers). The
// login throttle counts failures per address; without it, the TCP peer's
// address is used.
func WithClientIP(r *http.Request, ip string) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), clientIPKey{}, ip))
}

// clientIP is the address set by WithClientIP, else the TCP peer's host.
func clientIP(r *http.Request) string {
	if ip, ok := r.Context().Value(clientIPKey{}).(string); ok && ip != "" {
		return ip
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
