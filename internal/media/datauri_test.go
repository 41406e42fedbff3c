package media

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

func TestDecodeDataURI(t *testing.T) {
	bin := []byte{0xfb, 0xff, 0xfe, 0x00, 0x01, 0x3e, 0x3f}
	std := base64.StdEncoding.EncodeToString(bin)    // "+/// ..." uses + and /
	url := base64.URLEncoding.EncodeToString(bin)    // uses - and _
	raw := base64.RawStdEncoding.EncodeToString(bin) // no padding
	spaced := std[:4] + " \n\t" + std[4:8] + "\r\n " + std[8:]
	tests := []struct {
		name, in   string
		max        int64
		wantType   string
		wantParams map[string]string
		want       []byte
		code       Code
		msg        string
	}{
		{name: "std padded", in: "data:image/png;base64," + std, wantType: "image/png", want: bin},
		{name: "url alphabet", in: "data:image/png;base64," + url, wantType: "image/png", want: bin},
		{name: "unpadded", in: "data:image/png;base64," + raw, wantType: "image/png", want: bin},
		{name: "url unpadded", in: "data:image/png;base64," + base64.RawURLEncoding.EncodeToString(bin), wantType: "image/png", want: bin},
		{name: "whitespace", in: "data:image/png;base64," + spaced, wantType: "image/png", want: bin},
		{name: "case insensitive", in: "DATA:Image/PNG;BASE64," + std, wantType: "image/png", want: bin},
		{name: "params", in: "data:text/plain;charset=UTF-8;base64,aGk=", wantType: "text/plain",
			wantParams: map[string]string{"charset": "UTF-8"}, want: []byte("hi")},
		{name: "quoted param", in: `data:text/plain;name="a b.txt";base64,aGk=`, wantType: "text/plain",
			wantParams: map[string]string{"name": "a b.txt"}, want: []byte("hi")},
		{name: "percent encoded base64", in: "data:image/png;base64," + strings.ReplaceAll(std, "+", "%2B"), wantType: "image/png", want: bin},
		{name: "percent", in: "data:text/plain,Hello%2C%20World%21+%e2%82%ac", wantType: "text/plain",
			want: []byte("Hello, World!+€")},
		{name: "no type", in: "data:,abc", wantType: "text/plain", wantParams: map[string]string{"charset": "US-ASCII"}, want: []byte("abc")},
		{name: "params without type", in: "data:;charset=utf-8,abc", wantType: "text/plain", wantParams: map[string]string{"charset": "utf-8"}, want: []byte("abc")},
		{name: "base64 without type", in: "data:;base64,aGk", wantType: "text/plain", want: []byte("hi")},
		{name: "empty payload", in: "data:image/png;base64,", wantType: "image/png", want: []byte{}},
		{name: "exactly the limit", in: "data:;base64,aGk=", max: 2, wantType: "text/plain", want: []byte("hi")},

		{name: "not data", in: "http://x/a.png", code: CodeInvalidDataURI, msg: "not a data: URI"},
		{name: "too short", in: "dat", code: CodeInvalidDataURI},
		{name: "no comma", in: "data:image/png;base64", code: CodeInvalidDataURI, msg: "no comma"},
		{name: "bad type", in: "data:image;base64,aGk=", code: CodeInvalidDataURI, msg: "media type"},
		{name: "bad char", in: "data:image/png;base64,aGk*", code: CodeInvalidDataURI, msg: "invalid character '*' at byte 3"},
		{name: "mixed alphabets", in: "data:image/png;base64,a+b_", code: CodeInvalidDataURI, msg: "mixes"},
		{name: "data after padding", in: "data:image/png;base64,aG==aGk=", code: CodeInvalidDataURI, msg: "after padding"},
		{name: "too much padding", in: "data:image/png;base64,a===", code: CodeInvalidDataURI, msg: "padding"},
		{name: "wrong padding", in: "data:image/png;base64,aGk==", code: CodeInvalidDataURI, msg: "padding"},
		{name: "truncated", in: "data:image/png;base64,aGkzA", code: CodeInvalidDataURI, msg: "truncated"},
		{name: "bad percent", in: "data:text/plain,100%", code: CodeInvalidDataURI, msg: "percent-escape at byte 3"},
		{name: "bad percent hex", in: "data:text/plain,%zz", code: CodeInvalidDataURI, msg: "percent-escape"},
		{name: "too large base64", in: "data:;base64,aGk=", max: 1, code: CodeTooLarge, msg: "2 bytes, more than the limit of 1"},
		{name: "too large percent", in: "data:,abc", max: 2, code: CodeTooLarge},
		{name: "huge header", in: "data:" + strings.Repeat("a", 2000) + ",x", code: CodeInvalidDataURI, msg: "header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := DecodeDataURI(tt.in, tt.max)
			if tt.code != "" {
				me := wantCode(t, err, tt.code)
				if !strings.Contains(me.Message, tt.msg) {
					t.Fatalf("message %q lacks %q", me.Message, tt.msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.MediaType != tt.wantType || !bytes.Equal(d.Data, tt.want) {
				t.Fatalf("got %s %x, want %s %x", d.MediaType, d.Data, tt.wantType, tt.want)
			}
			for k, v := range tt.wantParams {
				if d.Params[k] != v {
					t.Errorf("param %s = %q, want %q", k, d.Params[k], v)
				}
			}
		})
	}
}

func TestParseDataURI(t *testing.T) {
	mt, data, err := ParseDataURI("data:image/png;base64," + base64.StdEncoding.EncodeToString(pngBytes))
	if err != nil || mt != "image/png" || !bytes.Equal(data, pngBytes) {
		t.Fatalf("ParseDataURI = %q, %d bytes, %v", mt, len(data), err)
	}
	if _, _, err := ParseDataURI("data:;base64,!"); err == nil {
		t.Fatal("want an error")
	}
}

// TestDataURISizeLimit: a payload over the limit is refused
// from its length, before decoding.
func TestDataURISizeLimit(t *testing.T) {
	in := "data:;base64," + strings.Repeat("A", 40<<20)
	_, err := DecodeDataURI(in, 1<<20)
	wantCode(t, err, CodeTooLarge)
}
