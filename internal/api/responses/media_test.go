package responses

import (
	"reflect"
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
