package catalog

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

func TestSearchVariants(t *testing.T) {
	both := upstream.Model{ID: "qwen3.7-plus", Name: "Qwen3.7-Plus", Thinking: true, Search: true}
	searchOnly := upstream.Model{ID: "qwen-turbo", Search: true}
	plain := upstream.Model{ID: "qwen3-coder-plus"}
	c := New(time.Hour, nil, nil)
	f := fetchOf(both, searchOnly, plain)
	list, err := c.List(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range list {
		ids = append(ids, m.Public)
	}
	want := []string{"qwen3.7-plus", "qwen3.7-plus-thinking", "qwen3.7-plus-search", "qwen3.7-plus-thinking-search",
		"qwen-turbo", "qwen-turbo-search", "qwen3-coder-plus"}
	if !slices.Equal(ids, want) {
		t.Fatalf("ids = %v, want %v", ids, want)
	}
	for _, tc := range []struct {
		name             string
		want             string
		thinking, search bool
	}{
		{"qwen3.7-plus-search", "qwen3.7-plus-search", false, true},
		{"QWEN3.7-PLUS-THINKING-SEARCH", "qwen3.7-plus-thinking-search", true, true},
		{"Qwen3.7-Plus-search", "qwen3.7-plus-search", false, true},
		{"qwen3.7-plus-thinking", "qwen3.7-plus-thinking", true, false},
		{"qwen-turbo-search", "qwen-turbo-search", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.Resolve(context.Background(), f, tc.name)
			if err != nil || got.Public != tc.want || got.Thinking != tc.thinking || got.Search != tc.search {
				t.Errorf("got %+v, %v", got, err)
			}
		})
	}
	for _, bad := range []string{"qwen3-coder-plus-search", "qwen-turbo-thinking-search", "qwen-turbo-search-thinking"} {
		t.Run(bad, func(t *testing.T) {
			var nf *NotFoundError
			if _, err := c.Resolve(context.Background(), f, bad); !errors.As(err, &nf) {
				t.Errorf("resolved a variant the model cannot do: %v", err)
			}
		})
	}
}

func TestSearchSuffixWithoutList(t *testing.T) {
	down := New(time.Hour, nil, nil)
	f := func(context.Context) ([]upstream.Model, error) { return nil, errors.New("down") }
	for _, tc := range []struct {
		name, base       string
		thinking, search bool
	}{
		{"m-thinking-search", "m", true, true},
		{"m-search", "m", false, true},
		{"m-thinking", "m", true, false},
		{"m-search-thinking", "m-search", true, false},
		{"m", "m", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := down.Resolve(context.Background(), f, tc.name)
			if err != nil || got.Upstream.ID != tc.base || got.Thinking != tc.thinking || got.Search != tc.search {
				t.Errorf("got %+v, %v", got, err)
			}
		})
	}
}
