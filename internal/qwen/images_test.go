package qwen

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/qwenrelay/qwenrelay/internal/qwenfake"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

func imageReq(mode upstream.Mode, size, prompt string, files ...upstream.File) *upstream.ChatRequest {
	r := userReq(prompt)
	r.Mode, r.Size, r.Files = mode, size, files
	return r
}

// TestImageModes runs t2i and image_edit against the emulator: the URL
// arrives as one EventMedia (from the stream, or from the chat detail when
// the stream has none), the ratio reaches the upstream, and failures are
// classified.
func TestImageModes(t *testing.T) {
	_, client, cred := emulator(t, qwenfake.Options{})
	img := upstream.File{Name: "cat.png", ContentType: "image/png", Data: pngBytes, Kind: upstream.FileImage}
	cases := []struct {
		name     string
		req      *upstream.ChatRequest
		wantPath string // substring of the URL
		wantKind upstream.Kind
	}{
		{"t2i in stream", imageReq(upstream.ModeT2I, "16:9", "a cat"), "/t2i/", 0},
		{"t2i ratio", imageReq(upstream.ModeT2I, "9:16", "a cat"), "/9x16-0-", 0},
		{"t2i detail fallback", imageReq(upstream.ModeT2I, "1:1", "a cat [[qwenfake image=detail]]"), "/8x8-0-", 0},
		{"t2i no url", imageReq(upstream.ModeT2I, "1:1", "a cat [[qwenfake image=none]]"), "", upstream.KindEmpty},
		{"t2i quota", imageReq(upstream.ModeT2I, "1:1", "a cat [[qwenfake fail=quota]]"), "", upstream.KindQuota},
		{"edit", imageReq(upstream.ModeImageEdit, "4:3", "make it blue", img), "/image_edit/", 0},
		{"edit counts files", imageReq(upstream.ModeImageEdit, "4:3", "make it blue", img, img), "/8x6-2-", 0},
		{"edit without image", imageReq(upstream.ModeImageEdit, "1:1", "make it blue"), "", upstream.KindBadRequest},
		{"t2i error frame", imageReq(upstream.ModeT2I, "1:1", "a cat [[qwenfake fail=quota_frame]]"), "", upstream.KindQuota},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := runCred(t, client(nil), cred, tc.req)
			if tc.wantKind != 0 {
				if upstream.KindOf(o.err) != tc.wantKind {
					t.Fatalf("err = %v (kind %v), want kind %v", o.err, upstream.KindOf(o.err), tc.wantKind)
				}
				return
			}
			if o.err != nil {
				t.Fatal(o.err)
			}
			var urls []string
			for _, e := range o.events {
				if e.Type == upstream.EventMedia {
					urls = append(urls, e.Text)
				}
			}
			if len(urls) != 1 || !strings.Contains(urls[0], tc.wantPath) {
				t.Fatalf("media = %q, want one URL containing %q", urls, tc.wantPath)
			}
			resp, err := http.Get(urls[0])
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || !strings.HasPrefix(string(b), "\x89PNG") {
				t.Fatalf("GET image: %d %q", resp.StatusCode, b)
			}
		})
	}
}
