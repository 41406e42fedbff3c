package anthropic

import (
	"context"
	"net/http"
	"reflect"
	"testing"

	"github.com/qwenrelay/qwenrelay/internal/api"
)

func TestDecodeMediaBlocks(t *testing.T) {
	cases := []struct {
		name, content string
		want          api.Message
	}{
		{"base64 image", `[{"type":"text","text":"what?"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0K"}}]`,
			api.Message{Role: "user", Text: "what?", Media: []api.Media{{Kind: api.MediaImage, Source: "iVBORw0K", MediaType: "image/png"}}}},
		{"url image alone", `[{"type":"image","source":{"type":"url","url":"https://example.com/a.png"}}]`,
			api.Message{Role: "user", Media: []api.Media{{Kind: api.MediaImage, Source: "https://example.com/a.png"}}}},
		{"pdf document with title", `[{"type":"document","title":"report","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0="}}]`,
			api.Message{Role: "user", Media: []api.Media{{Kind: api.MediaFile, Source: "JVBERi0=", MediaType: "application/pdf", Filename: "report"}}}},
		{"text document", `[{"type":"document","source":{"type":"text","media_type":"text/plain","data":"hi"}}]`,
			api.Message{Role: "user", Media: []api.Media{{Kind: api.MediaFile, Source: "aGk=", MediaType: "text/plain"}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":` + tc.content + `}]}`
			req, err := Codec{}.Decode(context.Background(), []byte(body), http.Header{})
			if err != nil {
				t.Fatal(err)
			}
			if len(req.Messages) != 1 || !reflect.DeepEqual(req.Messages[0], tc.want) {
				t.Fatalf("got %+v\nwant %+v", req.Messages, tc.want)
			}
		})
	}
}
