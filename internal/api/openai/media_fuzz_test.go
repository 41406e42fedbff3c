package openai

import (
	"testing"
)

// FuzzPartMedia: any image_url or file payload decodes to a medium with a
// source or a RequestError, never a panic.
func FuzzPartMedia(f *testing.F) {
	f.Add("image_url", `{"url":"data:image/png;base64,AAAA","detail":"low"}`)
	f.Add("image_url", `"https://example.com/a.png"`)
	f.Add("file", `{"filename":"a.pdf","file_data":"data:application/pdf;base64,JVBER"}`)
	f.Add("file", `{"file_id":"file-1"}`)
	f.Fuzz(func(t *testing.T, typ, payload string) {
		p := ContentPart{Type: typ}
		if typ == "file" {
			p.File = []byte(payload)
		} else {
			p.ImageURL = []byte(payload)
		}
		m, err := partMedia(&p, "messages[0].content[0]")
		if err != nil {
			if _, ok := err.(*RequestError); !ok {
				t.Fatalf("error %T", err)
			}
			return
		}
		if m.Source == "" {
			t.Fatal("medium without a source")
		}
	})
}
