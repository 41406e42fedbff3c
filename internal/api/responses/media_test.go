package responses

import (
	"reflect"
	"strings"
	"testing"

	"github.com/qwenrelay/qwenrelay/internal/api"
)

func TestContentMedia(t *testing.T) {
	cases := []struct {
		name, content string
		want          []api.Media
	}{
		{"string", `"hi"`, nil},
		{"image url", `[{"type":"input_text","text":"x"},{"type":"input_image","image_url":"https://e.com/a.png","detail":"auto"}]`,
			[]api.Media{{Kind: api.MediaImage, Source: "https://e.com/a.png"}}},
		{"file data", `[{"type":"input_file","filename":"a.pdf","file_data":"data:application/pdf;base64,JVBERi0="}]`,
			[]api.Media{{Kind: api.MediaFile, Source: "data:application/pdf;base64,JVBERi0=", Filename: "a.pdf"}}},
		{"file url", `[{"type":"input_file","file_url":"https://e.com/r.pdf"}]`,
			[]api.Media{{Kind: api.MediaFile, Source: "https://e.com/r.pdf"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := contentMedia([]byte(tc.content), "input[0].content")
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestStoredConversationKeepsMediaNamesOnly(t *testing.T) {
	in := []api.Message{{Role: "user", Text: "x", Media: []api.Media{
		{Kind: api.MediaImage, Source: "data:image/png;base64,AAAA"},
		{Kind: api.MediaFile, Source: "https://e.com/r.pdf", Filename: "r.pdf"}}}}
	b, err := encodeConversation(in)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "base64") {
		t.Fatalf("a data URI was stored: %s", b)
	}
	out, err := decodeConversation(b)
	if err != nil {
		t.Fatal(err)
	}
	want := []api.Media{{Kind: api.MediaImage}, {Kind: api.MediaFile, Source: "https://e.com/r.pdf", Filename: "r.pdf"}}
	if !reflect.DeepEqual(out[0].Media, want) {
		t.Fatalf("got %+v, want %+v", out[0].Media, want)
	}
}
