package responses

import (
	"context"
	"errors"
	"net/http"
	"os"
	"testing"

	"github.com/qwenrelay/qwenrelay/internal/api"
)

// FuzzDecode: any body decodes to a request or fails with a *api.Problem,
// never a panic; a decoded request renders.
func FuzzDecode(f *testing.F) {
	if b, err := os.ReadFile("testdata/codex_request.json"); err == nil {
		f.Add(b)
	}
	for _, s := range []string{
		`{"model":"m","input":"hi"}`,
		`{"model":"m","input":[{"type":"function_call","call_id":"c","name":"f","arguments":{}}]}`,
		`{"model":"m","input":[{"type":"item_reference","id":"msg_00_1"}],"previous_response_id":"resp_00"}`,
		`{"model":"m","input":"x","tools":[{"type":"namespace","tools":[{"type":"custom","name":"e","format":{"type":"grammar"}}]}],"tool_choice":{"type":"allowed_tools","mode":"required"}}`,
		`{"model":"m","input":"x","text":{"format":{"type":"json_schema","schema":{}}},"reasoning":{"effort":"low"}}`,
	} {
		f.Add([]byte(s))
	}
	st := NewMemoryStore(nil)
	c := New(st, 0)
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := c.Decode(context.Background(), body, http.Header{})
		if err != nil {
			var p *api.Problem
			if !errors.As(err, &p) || p.Status < 400 {
				t.Fatalf("error %v is not a client problem", err)
			}
			return
		}
		meta := api.Meta{ID: "resp_00", Model: req.Model}
		ans := &api.Answer{Text: "t"}
		if status, _ := c.Answer(req, meta, ans); status != http.StatusOK {
			t.Fatalf("Answer status %d", status)
		}
		enc := c.NewStream(req, meta)
		_ = enc.End(enc.Start(nil), &ans.End)
		c.Finished(req, meta, ans)
	})
}

func mustRead(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
