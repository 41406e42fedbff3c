package catalog

import (
	"fmt"
	"sort"
	"strings"
)

// Aliases maps the model names clients send (claude-sonnet-4-5,
// gpt-5-codex) to catalog models. An alias ending in "*" matches every
// name with that prefix; an exact alias wins over a prefix, and a longer
// prefix over a shorter one. Names are compared case-insensitively.
type Aliases struct {
	exact    map[string]string
	prefixes []prefixAlias // longest first
}

type prefixAlias struct{ prefix, target string }

// ParseAliases reads "alias=model,alias*=model" (spaces ignored).
func ParseAliases(spec string) (*Aliases, error) {
	a := &Aliases{exact: map[string]string{}}
	for _, pair := range strings.Split(spec, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		name, target, ok := strings.Cut(pair, "=")
		name, target = strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(target)
		if !ok || name == "" || target == "" || strings.ContainsAny(target, "*=") {
			return nil, fmt.Errorf("model alias %q: want alias=model (an alias may end in *)", pair)
		}
		if p, isPrefix := strings.CutSuffix(name, "*"); isPrefix {
			if strings.Contains(p, "*") {
				return nil, fmt.Errorf("model alias %q: * may only end the alias", pair)
			}
			a.prefixes = append(a.prefixes, prefixAlias{p, target})
			continue
		}
		if strings.Contains(name, "*") {
			return nil, fmt.Errorf("model alias %q: * may only end the alias", pair)
		}
		a.exact[name] = target
	}
	sort.SliceStable(a.prefixes, func(i, j int) bool { return len(a.prefixes[i].prefix) > len(a.prefixes[j].prefix) })
	return a, nil
}

// Target returns the model name alias stands for.
func (a *Aliases) Target(name string) (string, bool) {
	if a == nil {
		return "", false
	}
	low := strings.ToLower(strings.TrimSpace(name))
	if t, ok := a.exact[low]; ok {
		return t, true
	}
	for _, p := range a.prefixes {
		if strings.HasPrefix(low, p.prefix) {
			return p.target, true
		}
	}
	return "", false
}

// Len is the number of aliases.
func (a *Aliases) Len() int {
	if a == nil {
		return 0
	}
	return len(a.exact) + len(a.prefixes)
}
