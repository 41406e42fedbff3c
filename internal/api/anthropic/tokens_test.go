package anthropic

import (
	"errors"
	"testing"

	"github.com/qwenrelay/qwenrelay/internal/api"
)

func TestTokens(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"", 0},
		{"abcd", 1},
		{"abcde", 2},
		{"你好世界", 4},
		{"héllo", 2},  // 6 bytes
		{"ab你好cd", 3}, // 2 CJK + 4 bytes
		{"こんにちは안녕", 7},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := tokens(tt.in); got != tt.want {
				t.Errorf("tokens(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestCountTokens(t *testing.T) {
	const base = `{"model":"m","messages":[{"role":"user","content":"hello there"}]`
	tests := []struct {
		name string
		body string
		want int // 0: only compare with the base
		more bool
	}{
		{"no max_tokens needed", base + `}`, perMessage + 3, false},
		{"system adds", base + `,"system":"be brief please"}`, 2*perMessage + 3 + 4, false},
		{"tools add their rendered prompt", base + `,"tools":[{"name":"get_weather","description":"Weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}]}`, 0, true},
		{"tool_choice none offers no tools", base + `,"tools":[{"name":"f","input_schema":{}}],"tool_choice":{"type":"none"}}`, 0, true},
	}
	baseN, err := CountTokens([]byte(base + `}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := CountTokens([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.want > 0 && n != tt.want {
				t.Errorf("CountTokens = %d, want %d", n, tt.want)
			}
			if tt.more && n <= baseN {
				t.Errorf("CountTokens = %d, want more than %d", n, baseN)
			}
		})
	}
	// History with calls and results counts their rendered markup; replayed
	// reasoning is not counted.
	hist := `{"model":"m","messages":[{"role":"user","content":"x"},
		{"role":"assistant","content":[{"type":"thinking","thinking":"long long long long long long reasoning","signature":"s"},{"type":"tool_use","id":"t1","name":"f","input":{"a":1}}]},
		{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"ok"}]}]}`
	noThink := `{"model":"m","messages":[{"role":"user","content":"x"},
		{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"f","input":{"a":1}}]},
		{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"ok"}]}]}`
	a, errA := CountTokens([]byte(hist))
	b, errB := CountTokens([]byte(noThink))
	if errA != nil || errB != nil || a != b || a < 3*perMessage+10 {
		t.Errorf("history: %d (%v) vs %d (%v)", a, errA, b, errB)
	}
	if _, err := CountTokens([]byte(`{"messages":[]}`)); !errors.As(err, new(*api.Problem)) {
		t.Errorf("bad body: err = %v, want a Problem", err)
	}
}
