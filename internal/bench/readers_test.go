package bench

import (
	"errors"
	"strings"
	"testing"
)

func TestReadQwenStream(t *testing.T) {
	const created = "data: {\"response.created\":{\"chat_id\": \"c\", \"response_id\":\"r\"}}\n\n"
	frame := func(phase, content, status string) string {
		return `data: {"choices": [{"delta": {"role": "assistant", "content": "` + content +
			`", "phase": "` + phase + `", "status": "` + status + `"}}], "usage": {"output_tokens": 1}}` + "\n\n"
	}
	finished := frame("answer", "", "finished")
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr error // nil: success; errCut; or any error when errAny
		errAny  bool
	}{
		{"answer", created + frame("answer", "Hi", "typing") + frame("answer", " th\\u00e9re\\n", "typing") +
			frame("answer", "", "typing") + finished, "Hi thére\n", nil, false},
		{"thinking skipped", created + frame("think", "hmm", "typing") + frame("thinking_summary", "", "finished") +
			frame("answer", "A", "typing") + finished, "A", nil, false},
		{"no phase", "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\ndata: {\"choices\":[{\"delta\":{\"status\":\"finished\"}}]}\n\n", "x", nil, false},
		{"crlf", strings.ReplaceAll(created+frame("answer", "ok", "typing")+finished, "\n", "\r\n"), "ok", nil, false},
		{"tolerates DONE", frame("answer", "a", "typing") + finished + "data: [DONE]\n\n", "a", nil, false},
		{"cut", created + frame("answer", "Hi", "typing"), "Hi", errCut, false},
		{"empty body", "", "", errCut, false},
		{"error frame", frame("answer", "a", "typing") + `data: {"error":{"code":"x","details":"y"}}` + "\n\n", "a", nil, true},
		{"success false", `data: {"success":false,"data":{"code":"RateLimited"}}` + "\n\n", "", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			firsts := 0
			got, err := readQwenStream(strings.NewReader(tt.in), func() { firsts++ })
			checkRead(t, got, err, tt.want, tt.wantErr, tt.errAny)
			if want := min(1, len(tt.want)); firsts != want {
				t.Errorf("onFirst called %d times, want %d", firsts, want)
			}
		})
	}
}

func TestReadOpenAIStream(t *testing.T) {
	chunk := func(delta, finish string) string {
		return `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{` + delta +
			`},"finish_reason":` + finish + "}]}\n\n"
	}
	role := chunk(`"role":"assistant","content":""`, "null")
	stop := chunk("", `"stop"`)
	const done = "data: [DONE]\n\n"
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr error
		errAny  bool
	}{
		{"answer", role + chunk(`"content":"Hi"`, "null") + ": heartbeat\n\n" + chunk(`"content":" th\u00e9re\n\"q\""`, "null") + stop + done,
			"Hi thére\n\"q\"", nil, false},
		{"reasoning not content", role + chunk(`"reasoning_content":"hmm"`, "null") + chunk(`"content":"A"`, "null") + stop + done, "A", nil, false},
		{"usage chunk", role + chunk(`"content":"A"`, "null") + stop + `data: {"choices":[],"usage":{"total_tokens":3}}` + "\n\n" + done, "A", nil, false},
		{"cut", role + chunk(`"content":"Hi"`, "null"), "Hi", errCut, false},
		{"cut after finish", role + chunk(`"content":"Hi"`, "null") + stop, "Hi", errCut, false},
		{"no finish", role + chunk(`"content":"Hi"`, "null") + done, "Hi", errNoFinish, false},
		{"error frame", role + `data: {"error":{"message":"upstream failed","type":"server_error"}}` + "\n\n" + done, "", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			firsts := 0
			got, err := readOpenAIStream(strings.NewReader(tt.in), func() { firsts++ })
			checkRead(t, got, err, tt.want, tt.wantErr, tt.errAny)
			if want := min(1, len(tt.want)); firsts != want {
				t.Errorf("onFirst called %d times, want %d", firsts, want)
			}
		})
	}
}

func checkRead(t *testing.T, got string, err error, want string, wantErr error, errAny bool) {
	t.Helper()
	switch {
	case errAny && err == nil:
		t.Fatalf("got no error, want one")
	case !errAny && wantErr == nil && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case wantErr != nil && !errors.Is(err, wantErr):
		t.Fatalf("error = %v, want %v", err, wantErr)
	}
	if !errAny && got != want {
		t.Errorf("answer = %q, want %q", got, want)
	}
}
