package anthropic

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/qwenrelay/qwenrelay/internal/api"
)

// FuzzDecode: any body decodes or fails with a *api.Problem, never panics;
// a decoded request renders and estimates without panicking, and its call
// arguments are valid JSON.
func FuzzDecode(f *testing.F) {
	seeds := []string{
		`{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}]}`,
		`{"model":"m","max_tokens":1,"system":[{"type":"text","text":"s"}],"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"a","name":"f","input":{"k":[1]}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"a","content":[{"type":"text","text":"r"}]}]}],"tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":{"type":"tool","name":"f"},"thinking":{"type":"enabled","budget_tokens":10}}`,
		`{"model":1}`, `[]`, `null`, `{"messages":"x"}`, `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"image"}]}]}`,
	}
	if b, err := os.ReadFile("testdata/claude_code_request.json"); err == nil {
		seeds = append(seeds, string(b))
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := New().Decode(context.Background(), body, nil)
		if err != nil {
			var p *api.Problem
			if !errors.As(err, &p) || p.Status != 400 || p.Message == "" {
				t.Fatalf("error %v is not a 400 Problem", err)
			}
			return
		}
		for _, m := range req.Messages {
			for _, c := range m.ToolCalls {
				if !json.Valid([]byte(c.Arguments)) {
					t.Fatalf("invalid arguments %q", c.Arguments)
				}
			}
		}
		_ = estimate(req)
		_, _ = CountTokens(body)
	})
}
