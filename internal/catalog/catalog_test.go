package catalog

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

func fetchOf(models ...upstream.Model) FetchFunc {
	return func(context.Context) ([]upstream.Model, error) { return models, nil }
}

func TestAliases(t *testing.T) {
	a, err := ParseAliases(" claude-sonnet-4-5 = qwen3.7-max , claude-* = qwen3.7-plus, claude-opus*=qwen3-coder-plus,gpt-5-codex=qwen3-coder-plus ")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"claude-sonnet-4-5":        "qwen3.7-max",      // exact wins over the prefix
		"Claude-Haiku-4-5":         "qwen3.7-plus",     // case-insensitive prefix
		"claude-opus-4-1-20250805": "qwen3-coder-plus", // the longer prefix wins
		"gpt-5-codex":              "qwen3-coder-plus",
	} {
		if got, ok := a.Target(name); !ok || got != want {
			t.Errorf("%s -> %q %v, want %q", name, got, ok, want)
		}
	}
	if _, ok := a.Target("gpt-4o"); ok {
		t.Error("gpt-4o matched")
	}
	for _, bad := range []string{"x", "=y", "a*b=c", "a=b*", "a=b=c"} {
		if _, err := ParseAliases(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestResolve(t *testing.T) {
	a, _ := ParseAliases("claude-*=qwen3.7-plus,gpt-5-codex=nope")
	c := New(time.Hour, nil, a)
	f := fetchOf(upstream.Model{ID: "qwen3.7-plus", Name: "Qwen3.7-Plus", Thinking: true}, upstream.Model{ID: "qwen3-coder-plus"})
	for name, want := range map[string]Model{
		"qwen3.7-plus":          {Public: "qwen3.7-plus", Upstream: upstream.Model{ID: "qwen3.7-plus", Name: "Qwen3.7-Plus", Thinking: true}},
		"QWEN3.7-PLUS-thinking": {Public: "qwen3.7-plus-thinking", Upstream: upstream.Model{ID: "qwen3.7-plus", Name: "Qwen3.7-Plus", Thinking: true}, Thinking: true},
		"claude-sonnet-4-5":     {Public: "qwen3.7-plus", Upstream: upstream.Model{ID: "qwen3.7-plus", Name: "Qwen3.7-Plus", Thinking: true}},
	} {
		got, err := c.Resolve(context.Background(), f, name)
		if err != nil || got != want {
			t.Errorf("%s: %+v, %v", name, got, err)
		}
	}
	var nf *NotFoundError
	if _, err := c.Resolve(context.Background(), f, "qwen3.7-plux"); !errors.As(err, &nf) || len(nf.Suggestions) == 0 || nf.Suggestions[0] != "qwen3.7-plus" {
		t.Errorf("unknown model: %v %+v", err, nf)
	}
	if _, err := c.Resolve(context.Background(), f, "gpt-5-codex"); !errors.As(err, &nf) || nf.Name != "nope" {
		t.Errorf("alias to an unknown model: %v", err)
	}
	// With no list at all the name passes as is.
	down := New(time.Hour, nil, nil)
	got, err := down.Resolve(context.Background(), func(context.Context) ([]upstream.Model, error) { return nil, errors.New("down") }, "m-thinking")
	if err != nil || got.Upstream.ID != "m" || !got.Thinking {
		t.Errorf("no list: %+v %v", got, err)
	}
}
