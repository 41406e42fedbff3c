package media

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"testing"
)

func TestFilePartDecode(t *testing.T) {
	pdf := []byte("%PDF-1.4\n%âãÏÓ\n1 0 obj\n")
	b64 := base64.StdEncoding.EncodeToString
	docx := append([]byte("PK\x03\x04"), make([]byte, 40)...)
	tests := []struct {
		name     string
		raw      string
		max      int64
		allowed  []string
		wantType string
		wantName string
		wantKind Kind
		want     []byte
		code     Code
		msg      string
	}{
		{name: "pdf", raw: `{"filename":"paper.pdf","file_data":"data:application/pdf;base64,` + b64(pdf) + `"}`,
			wantType: "application/pdf", wantName: "paper.pdf", wantKind: KindDocument, want: pdf},
		{name: "image", raw: `{"filename":"cat.png","file_data":"data:image/png;base64,` + b64(pngBytes) + `"}`,
			wantType: "image/png", wantName: "cat.png", wantKind: KindImage, want: pngBytes},
		{name: "bare base64 is sniffed", raw: `{"filename":"x","file_data":"` + b64(pdf) + `"}`,
			wantType: "application/pdf", wantName: "x.pdf", wantKind: KindDocument},
		{name: "generic type refined by extension", raw: `{"filename":"r.docx","file_data":"data:application/octet-stream;base64,` + b64(docx) + `"}`,
			wantType: "application/vnd.openxmlformats-officedocument.wordprocessingml.document", wantName: "r.docx", wantKind: KindDocument},
		{name: "text by extension", raw: `{"filename":"notes.md","file_data":"` + b64([]byte("# Title\nbody")) + `"}`,
			wantType: "text/markdown", wantName: "notes.md", wantKind: KindDocument},
		{name: "no filename", raw: `{"file_data":"data:application/pdf;base64,` + b64(pdf) + `"}`,
			wantType: "application/pdf", wantName: "document.pdf", wantKind: KindDocument},
		{name: "path in filename", raw: `{"filename":"C:\\Users\\me\\..\\a:b.pdf","file_data":"data:application/pdf;base64,` + b64(pdf) + `"}`,
			wantType: "application/pdf", wantName: "a_b.pdf", wantKind: KindDocument},
		{name: "audio kind", raw: `{"filename":"a.mp3","file_data":"data:audio/mpeg;base64,` + b64([]byte("ID3\x03\x00")) + `"}`,
			allowed: []string{"audio/*"}, wantType: "audio/mpeg", wantName: "a.mp3", wantKind: KindAudio},

		{name: "audio not allowed by default", raw: `{"filename":"a.mp3","file_data":"data:audio/mpeg;base64,` + b64([]byte("ID3\x03\x00")) + `"}`,
			code: CodeUnsupportedType, msg: "audio/mpeg is not accepted"},
		{name: "declared image but pdf", raw: `{"filename":"x.png","file_data":"data:image/png;base64,` + b64(pdf) + `"}`,
			code: CodeTypeMismatch},
		{name: "file id", raw: `{"file_id":"file-abc"}`, code: CodeInvalidFile, msg: "file_id"},
		{name: "empty", raw: `{}`, code: CodeInvalidFile, msg: "no file_data"},
		{name: "not json", raw: `[1,2]`, code: CodeInvalidFile},
		{name: "bad base64", raw: `{"file_data":"data:application/pdf;base64,@@@"}`, code: CodeInvalidDataURI},
		{name: "too large", raw: `{"file_data":"data:application/pdf;base64,` + b64(pdf) + `"}`, max: 4, code: CodeTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseFilePart([]byte(tt.raw))
			var m *Media
			if err == nil {
				m, err = p.Decode(tt.max, tt.allowed)
			}
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
			if m.ContentType != tt.wantType || m.Filename != tt.wantName || m.Kind() != tt.wantKind {
				t.Fatalf("got %s %q %s, want %s %q %s", m.ContentType, m.Filename, m.Kind(), tt.wantType, tt.wantName, tt.wantKind)
			}
			if tt.want != nil && !bytes.Equal(m.Data, tt.want) {
				t.Fatalf("data differs")
			}
		})
	}
}

func TestSafeFilename(t *testing.T) {
	long := strings.Repeat("é", 150) + ".pdf"
	tests := []struct {
		name, in, mediaType, want string
	}{
		{"plain", "a.png", "image/png", "a.png"},
		{"adds extension", "photo", "image/jpeg", "photo.jpg"},
		{"empty", "", "image/webp", "image.webp"},
		{"dots only", "..", "application/pdf", "document.pdf"},
		{"unknown type", "", "application/x-thing", "document.bin"},
		{"unix path", "/etc/passwd.txt", "text/plain", "passwd.txt"},
		{"windows path", `..\..\boot.ini`, "text/plain", "boot.ini"},
		{"control chars", "a\x00b\nc.txt", "text/plain", "a_b_c.txt"},
		{"reserved chars", `a<b>:"|?*.pdf`, "application/pdf", "a_b______.pdf"},
		{"hidden", ".bashrc", "text/plain", "bashrc.txt"},
		{"long keeps extension", long, "application/pdf", strings.Repeat("é", 98) + ".pdf"},
		{"long fake extension", "a." + strings.Repeat("x", 300), "text/plain", "a." + strings.Repeat("x", 198)},
		{"invalid utf8", "a\xffb.txt", "text/plain", "a_b.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SafeFilename(tt.in, tt.mediaType); got != tt.want {
				t.Fatalf("SafeFilename(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestKindOf(t *testing.T) {
	tests := []struct {
		in   string
		want Kind
	}{
		{"image/png", KindImage}, {"IMAGE/JPEG; q=1", KindImage}, {"audio/wav", KindAudio}, {"video/mp4", KindVideo},
		{"application/pdf", KindDocument}, {"text/plain", KindDocument}, {"", KindDocument}, {"garbage", KindDocument},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := KindOf(tt.in); got != tt.want {
				t.Fatalf("KindOf(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

// TestResolve: data: URIs and URLs go through the same size and type rules.
func TestResolve(t *testing.T) {
	png := "data:image/png;base64," + base64.StdEncoding.EncodeToString(pngBytes)
	tests := []struct {
		name, ref string
		allowed   []string
		max       int64
		code      Code
	}{
		{name: "data image", ref: png, allowed: []string{"image/*"}},
		{name: "data wrong type", ref: "data:text/plain,hello", allowed: []string{"image/*"}, code: CodeUnsupportedType},
		{name: "data too large", ref: png, max: 10, code: CodeTooLarge},
		{name: "url refused", ref: "http://127.0.0.1/a.png", code: CodeBlockedAddress},
		{name: "other scheme", ref: "blob:abc", code: CodeInvalidURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newFakeNet(t, nil, nil)
			f := n.fetcher()
			f.AllowedTypes, f.MaxBytes = tt.allowed, tt.max
			m, err := f.Resolve(context.Background(), tt.ref)
			if tt.code != "" {
				wantCode(t, err, tt.code)
				return
			}
			if err != nil || m.ContentType != "image/png" || m.Filename != "image.png" || !bytes.Equal(m.Data, pngBytes) {
				t.Fatalf("Resolve = %+v, %v", m, err)
			}
		})
	}
}
