package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/qwenrelay/qwenrelay/internal/qwenfake"
)

// Scenario tools measures what tool calling costs the relay: the same load
// (n, c, tokens) three times through the relay: without tools, with tools
// declared and a prose answer (the prompt grows and every frame goes
// through the tool-call parser), and with tools declared and an answer of
// prose plus toolCalls calls (parsed, checked against the emulator's
// ToolCallArgs). Only the relay is measured: the emulator has no tools.

// toolCalls is the number of calls in each answer of the calls run, and
// toolChunk the bytes per upstream frame of that answer.
const (
	toolCalls = 2
	toolChunk = 4
)

// ToolsResult is the tools scenario's outcome. The scenario's Ratio is
// tools-declared req/s over no-tools req/s (the same answers); the calls
// run streams a longer answer (the calls' text in toolChunk-byte frames,
// about three times the frames), so its rate is reported, not judged.
type ToolsResult struct {
	NoTools  *TargetResult `json:"no_tools"`
	Declared *TargetResult `json:"tools_declared"`
	Calls    *TargetResult `json:"tools_calls"`
}

// benchTools are the declared tools: the first one is called.
var benchTools = []struct{ name, schema string }{
	{"write_file", qwenfake.ToolSchema},
	{"read_file", `{"type":"object","properties":{"path":{"type":"string"}},"required":["path"]}`},
	{"run_command", `{"type":"object","properties":{"command":{"type":"string"},"cwd":{"type":"string"}},"required":["command"]}`},
}

// tools runs the scenario.
func (r *runner) tools(ctx context.Context, s scenario) ScenarioResult {
	res := ScenarioResult{Name: s.name, N: s.n, C: s.c, Tokens: s.tokens, Delay: s.delay.String(), MinRatio: s.minRatio}
	if !r.o.targets["relay"] {
		res.Tools = &ToolsResult{}
		return res
	}
	l := r.load(s)
	plain := r.runTarget(ctx, "relay", l, func(t http.RoundTripper) streamer {
		return newRelayClient(r.e.RelayURL, r.e.apiKey, t)
	})
	ld := l
	ld.seed += "-declared"
	declared := r.runTarget(ctx, "relay", ld, func(t http.RoundTripper) streamer {
		return newToolsClient(r.e.RelayURL, r.e.apiKey, "", t)
	})
	declared.Target = "relay+tools"
	lc := l
	lc.seed += "-calls"
	lc.answer = toolsAnswer
	calls := r.runTarget(ctx, "relay", lc, func(t http.RoundTripper) streamer {
		return newToolsClient(r.e.RelayURL, r.e.apiKey, fmt.Sprintf("calls=%d calltext=before chunk=%d", toolCalls, toolChunk), t)
	})
	calls.Target = "relay+calls"
	res.Tools = &ToolsResult{NoTools: plain, Declared: declared, Calls: calls}
	res.Ratio = ratio(declared, plain)
	res.Pass = res.Ratio >= s.minRatio && clean(plain, true) && clean(declared, true) && clean(calls, true)
	return res
}

// toolsAnswer is what a client of the calls run must reassemble: the prose
// (whitespace touching a call block is dropped) and each call as
// "\n<call NAME ARGS>".
func toolsAnswer(seed string, tokens int) string {
	d, _ := qwenfake.ParseDirective(fmt.Sprintf("[[qwenfake seed=%s tokens=%d calls=%d calltext=before]]", seed, tokens, toolCalls))
	p := d.ToolPlan(benchTools[0].name, tokens)
	var b strings.Builder
	b.WriteString(strings.TrimRight(p.BeforeText(), " \t\r\n"))
	for i := range p.Calls {
		fmt.Fprintf(&b, "\n<call %s %s>", p.Called(), qwenfake.ToolCallArgs(seed, i))
	}
	return b.String()
}

// toolsClient asks the relay with benchTools declared; extra directive
// words are added to the prompt's directive.
type toolsClient struct {
	relayClient
	extra string
	tools []json.RawMessage
}

func newToolsClient(base, key, extra string, t http.RoundTripper) *toolsClient {
	c := &toolsClient{relayClient: *newRelayClient(base, key, t), extra: extra}
	for _, bt := range benchTools {
		c.tools = append(c.tools, json.RawMessage(`{"type":"function","function":{"name":"`+bt.name+
			`","description":"Bench tool `+bt.name+`.","parameters":`+bt.schema+`}}`))
	}
	return c
}

func (c *toolsClient) stream(ctx context.Context, prompt string, onFirst func()) (string, error) {
	if c.extra != "" {
		prompt = strings.Replace(prompt, "]]", " "+c.extra+"]]", 1)
	}
	body, err := json.Marshal(struct {
		oaRequest
		Tools []json.RawMessage `json:"tools"`
	}{oaRequest{Model: model, Stream: true, Messages: []oaMessage{{Role: "user", Content: prompt}}}, c.tools})
	if err != nil {
		return "", err
	}
	return postStream(ctx, c.http, c.url, c.key, body, "chat/completions", readToolsStream, onFirst)
}

// readToolsStream reassembles content and tool_calls deltas (by index) of an
// OpenAI chunk stream, calls after the content as "\n<call NAME ARGS>".
func readToolsStream(r io.Reader, onFirst func()) (string, error) {
	var text strings.Builder
	type call struct{ name, args strings.Builder }
	var calls []*call
	first := true
	err := readChunks(r, func(choice gjson.Result) error {
		content := choice.Get("delta.content").String()
		tcs := choice.Get("delta.tool_calls").Array()
		if first && (content != "" || len(tcs) > 0) && onFirst != nil {
			first = false
			onFirst()
		}
		text.WriteString(content)
		for _, tc := range tcs {
			i := int(tc.Get("index").Int())
			if i < 0 || i > len(calls) {
				return fmt.Errorf("tool_calls index %d out of order", i)
			}
			if i == len(calls) {
				calls = append(calls, &call{})
			}
			calls[i].name.WriteString(tc.Get("function.name").String())
			calls[i].args.WriteString(tc.Get("function.arguments").String())
		}
		return nil
	})
	for _, c := range calls {
		fmt.Fprintf(&text, "\n<call %s %s>", c.name.String(), c.args.String())
	}
	return text.String(), err
}

// writeTools prints the tools scenario.
func writeTools(w io.Writer, s ScenarioResult) {
	fmt.Fprintf(w, "\n== %s: n=%d c=%d tokens=%d delay=%s (relay only; relay+calls: prose and %d calls in %d-byte frames)\n",
		s.Name, s.N, s.C, s.Tokens, s.Delay, toolCalls, toolChunk)
	writeTargets(w, s.Tools.NoTools, s.Tools.Declared, s.Tools.Calls)
	verdict := "FAIL"
	if s.Pass {
		verdict = "PASS"
	}
	fmt.Fprintf(w, "relay+tools/relay req/s = %.3f (target >= %.2f): %s\n", s.Ratio, s.MinRatio, verdict)
	for _, t := range []*TargetResult{s.Tools.NoTools, s.Tools.Declared, s.Tools.Calls} {
		writeProblems(w, t)
	}
}
