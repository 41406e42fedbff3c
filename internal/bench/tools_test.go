package bench

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/qwenrelay/qwenrelay/internal/qwenfake"
)

func TestReadToolsStream(t *testing.T) {
	chunk := func(delta, finish string) string {
		return `data: {"choices":[{"index":0,"delta":{` + delta + `},"finish_reason":` + finish + "}]}\n\n"
	}
	call0 := chunk(`"tool_calls":[{"index":0,"id":"a","type":"function","function":{"name":"f","arguments":""}}]`, "null")
	args0 := chunk(`"tool_calls":[{"index":0,"function":{"arguments":"{\"x\":"}}]`, "null") +
		chunk(`"tool_calls":[{"index":0,"function":{"arguments":"1}"}}]`, "null")
	call1 := chunk(`"tool_calls":[{"index":1,"id":"b","type":"function","function":{"name":"g","arguments":"{}"}}]`, "null")
	end := chunk(``, `"tool_calls"`) + "data: [DONE]\n\n"
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr error
		errAny  bool
	}{
		{"text and calls", chunk(`"content":"Hi"`, "null") + call0 + args0 + call1 + end, "Hi\n<call f {\"x\":1}>\n<call g {}>", nil, false},
		{"calls only", call0 + args0 + end, "\n<call f {\"x\":1}>", nil, false},
		{"index gap", call1 + end, "", nil, true},
		{"cut", call0, "\n<call f >", errCut, false},
		{"no finish", call0 + "data: [DONE]\n\n", "\n<call f >", errNoFinish, false},
		{"error event", call0 + `data: {"error":{"code":"upstream_error","message":"x"}}` + "\n\n", "", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			firsts := 0
			got, err := readToolsStream(strings.NewReader(tt.in), func() { firsts++ })
			checkRead(t, got, err, tt.want, tt.wantErr, tt.errAny)
			if !tt.errAny && firsts != 1 {
				t.Errorf("onFirst called %d times", firsts)
			}
		})
	}
}

func TestToolsAnswer(t *testing.T) {
	got := toolsAnswer("s", 8)
	if !strings.HasPrefix(got, strings.TrimRight(qwenfake.AnswerText("s", 8), " \t\r\n")+"\n<call write_file ") ||
		!strings.HasSuffix(got, qwenfake.ToolCallArgs("s", 1)+">") || strings.Count(got, "\n<call ") != toolCalls {
		t.Fatalf("toolsAnswer = %q", got)
	}
}

// TestToolsClientRequest checks what the tools client sends: the tools and
// the extra directive words.
func TestToolsClientRequest(t *testing.T) {
	checkLeaks(t)
	got := make(chan string, 1)
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- string(b)
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, `data: {"choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":"stop"}]}`+"\n\ndata: [DONE]\n\n")
	}))
	c := newToolsClient(srv.URL, "k", "calls=2", transport(t, 1))
	text, err := c.stream(context.Background(), prompt("s", 4, 0), nil)
	if err != nil || text != "ok" {
		t.Fatalf("%q %v", text, err)
	}
	body := <-got
	if n := gjson.Get(body, "tools.#").Int(); n != int64(len(benchTools)) || gjson.Get(body, "tools.0.function.name").String() != "write_file" {
		t.Fatalf("tools: %s", body)
	}
	if msg := gjson.Get(body, "messages.0.content").String(); !strings.HasSuffix(msg, " calls=2]]") || !gjson.Valid(body) {
		t.Fatalf("prompt: %q", msg)
	}
}
