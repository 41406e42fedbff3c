package catalog

import (
	"context"
	"strings"

	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// NotFoundError says a model name is not in the catalog.
type NotFoundError struct {
	Name        string
	Suggestions []string // the nearest known ids
}

func (e *NotFoundError) Error() string { return "model " + e.Name + " not found" }

// maxSuggestName bounds the names the nearest-name search runs on.
const maxSuggestName = 100

// Resolve maps the model name a client sent to a catalog model: a model id
// or display name (with or without -thinking) first, then an alias. When
// no list can be had from the upstream at all, the name is passed on as is
// (a -thinking suffix still selects reasoning, -search the search mode). An unknown name is a
// *NotFoundError.
func (c *Catalog) Resolve(ctx context.Context, fetch FetchFunc, name string) (Model, error) {
	// Loading the list lets unknown names fail fast with suggestions; if the
	// upstream's list cannot be had at all, the name is passed on as is.
	_, _ = c.Get(ctx, fetch)
	if err := ctx.Err(); err != nil {
		return Model{}, err
	}
	m, found, known := c.Lookup(name)
	if found {
		return m, nil
	}
	if target, ok := c.aliases.Target(name); ok {
		if m, found, _ = c.Lookup(target); found {
			return m, nil
		}
		name = target
	}
	if known {
		e := &NotFoundError{Name: name}
		if len(name) <= maxSuggestName {
			e.Suggestions = c.Suggest(name)
		}
		return Model{}, e
	}
	base, thinking, search := splitSuffixes(name)
	return Model{Public: name, Upstream: upstream.Model{ID: base},
		Thinking: thinking, Search: search}, nil
}

// splitSuffixes strips the variant suffixes from a name the catalog does
// not know, longest first: -thinking-search, then -search, then -thinking.
func splitSuffixes(name string) (base string, thinking, search bool) {
	if b, ok := strings.CutSuffix(name, ThinkingSuffix+SearchSuffix); ok {
		return b, true, true
	}
	if b, ok := strings.CutSuffix(name, SearchSuffix); ok {
		return b, false, true
	}
	base, thinking = strings.CutSuffix(name, ThinkingSuffix)
	return base, thinking, false
}

// List returns the public models (ids with their variants), loading the
// list if needed.
func (c *Catalog) List(ctx context.Context, fetch FetchFunc) ([]Model, error) {
	return c.Get(ctx, fetch)
}
