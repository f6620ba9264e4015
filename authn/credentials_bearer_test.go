package authn

import (
	"strings"
	"testing"
)

func TestParseBearer(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		want   string
		wantOK bool
	}{
		{name: "ok-token", in: "Bearer abc.DEF-ghi_~+/09", want: "abc.DEF-ghi_~+/09", wantOK: true},
		{name: "ok-scheme-any-case", in: "bEaReR abc", want: "abc", wantOK: true},
		{name: "ok-padding", in: "Bearer abc==", want: "abc==", wantOK: true},
		{name: "ok-spaces-before-token", in: "Bearer    abc", want: "abc", wantOK: true},
		// Not a b64token: it needs a character before the padding.
		{name: "fail-padding-only", in: "Bearer ==", wantOK: false},
		{name: "fail-padding-inside", in: "Bearer ab=c", wantOK: false},
		{name: "fail-space-inside", in: "Bearer ab c", wantOK: false},
		{name: "fail-trailing-space", in: "Bearer abc ", wantOK: false},
		{name: "fail-non-ascii", in: "Bearer abcé", wantOK: false},
		{name: "fail-no-token", in: "Bearer ", wantOK: false},
		{name: "fail-only-spaces", in: "Bearer    ", wantOK: false},
		{name: "fail-basic", in: "Basic YWxpY2U6cGFzcw==", wantOK: false},
		{name: "fail-no-space", in: "Bearerabc", wantOK: false},
		{name: "fail-empty", in: "", wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseBearer(tt.in)
			if ok != tt.wantOK || ok && got != tt.want {
				t.Errorf("parseBearer(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// TestParseBearerEveryByte checks every byte value inside a token against
// RFC 6750's b64token grammar, written out the slow way.
func TestParseBearerEveryByte(t *testing.T) {
	const b64token = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/"
	for c := 0; c < 256; c++ {
		in := "Bearer a" + string([]byte{byte(c)}) + "b"
		_, ok := parseBearer(in)
		if want := strings.IndexByte(b64token, byte(c)) >= 0; ok != want {
			t.Errorf("parseBearer(%q) ok = %v; want %v", in, ok, want)
		}
	}
}
