package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// The firsttoken scenario: chats/new answers after 400 ms (the real
// service: 0.3–6 s, docs/qwen-protocol.md §11.9), C=2, 16-token answers at
// 20 ms per frame, two accounts. It measures the time to first token
// straight at the emulator (a chat created per request, as the direct
// client does), through the relay with the chat pool off, and with it on,
// each against a fresh emulator; after each relay has shut down it reads
// the emulator's chat counters, so a chat left behind shows.
const (
	firstTokenChatDelay = 400 * time.Millisecond
	firstTokenAccounts  = 2
	firstTokenTargetMs  = 50.0 // TTFT p50 through the relay with the pool
)

// ChatCounts are the emulator's chat counters after a run (and after the
// relay shut down).
type ChatCounts struct {
	Created int64 `json:"created"`
	Used    int64 `json:"used"`
	Deleted int64 `json:"deleted"`
	Expired int64 `json:"expired"`
	Alive   int64 `json:"alive"` // left upstream: leaked, for the relay
}

// FirstTokenRun is one target of the firsttoken scenario.
type FirstTokenRun struct {
	Name   string        `json:"name"` // direct, relay pool=off, relay pool=on
	Result *TargetResult `json:"result,omitempty"`
	Chats  *ChatCounts   `json:"chats,omitempty"`
	Reason string        `json:"reason,omitempty"` // why it was not measured
}

// FirstTokenResult is the firsttoken scenario's outcome.
type FirstTokenResult struct {
	ChatDelay string          `json:"chat_delay"`
	Accounts  int             `json:"accounts"`
	TargetMs  float64         `json:"target_ttft_p50_ms"`
	Runs      []FirstTokenRun `json:"runs"`
}

// firstToken runs the scenario; the result's Direct and Relay are the
// direct and pool-on runs.
func (r *runner) firstToken(ctx context.Context, s scenario) ScenarioResult {
	res := ScenarioResult{Name: s.name, N: s.n, C: s.c, Tokens: s.tokens, Delay: s.delay.String()}
	ft := &FirstTokenResult{ChatDelay: firstTokenChatDelay.String(), Accounts: firstTokenAccounts, TargetMs: firstTokenTargetMs}
	res.FirstToken = ft
	l := r.load(s)
	var pass []bool
	for _, run := range []struct {
		name, target, pool string
	}{{"direct", "direct", ""}, {"relay pool=off", "relay", "false"}, {"relay pool=on", "relay", "true"}} {
		if !r.o.targets[run.target] {
			continue
		}
		out := r.firstTokenRun(ctx, l, run.name, run.pool)
		ft.Runs = append(ft.Runs, out)
		switch run.name {
		case "direct":
			res.Direct = out.Result
		case "relay pool=on":
			res.Relay = out.Result
			ok := clean(out.Result, true) && out.Chats != nil && out.Chats.Alive == 0 &&
				out.Result.TTFT.P50 <= firstTokenTargetMs
			pass = append(pass, ok)
		default:
			pass = append(pass, clean(out.Result, true) && out.Chats != nil && out.Chats.Alive == 0)
		}
	}
	res.Ratio = ratio(res.Relay, res.Direct)
	res.Pass = len(pass) > 0
	for _, p := range pass {
		res.Pass = res.Pass && p
	}
	return res
}

// firstTokenRun starts a fresh emulator (and, unless pool is empty, a
// relay with chat_pool=pool in front of it), measures l, stops the relay
// and reads the emulator's chat counters.
func (r *runner) firstTokenRun(ctx context.Context, l load, name, pool string) FirstTokenRun {
	out := FirstTokenRun{Name: name}
	if r.o.relayURL != "" || r.o.emulatorURL != "" {
		out.Reason = "needs processes of its own: not run with --relay-url or --emulator-url"
		return out
	}
	bin, err := r.binary()
	if err != nil {
		out.Reason = err.Error()
		return out
	}
	slug := strings.NewReplacer(" ", "-", "=", "-").Replace(name)
	emu, err := startChild(ctx, childSpec{
		name: "firsttoken-emulator-" + slug, bin: bin, dir: r.e.dir,
		args: []string{"emulator", "--listen", "127.0.0.1:0", "--secret", r.o.secret,
			"--chat-delay", firstTokenChatDelay.String()},
	})
	if err != nil {
		out.Reason = "emulator did not start: " + firstLine(err.Error())
		fmt.Fprintf(r.stderr, "bench: %v\n", err)
		return out
	}
	defer emu.stop()
	tokens := mintTokens([]byte(r.o.secret), firstTokenAccounts)
	var st streamer
	var relay *child
	t := newTransport(l.c + 16)
	defer t.CloseIdleConnections()
	if pool == "" {
		st = newDirectClient(emu.url, tokens, t)
	} else {
		key := "bench-" + newID()
		relay, err = startChild(ctx, childSpec{
			name: "firsttoken-relay-" + slug, bin: bin, dir: r.e.dir,
			args: []string{"serve", "--listen", "127.0.0.1:0"},
			env:  r.firstTokenRelayEnv(emu.url, tokens, key, slug, pool),
		})
		if err != nil {
			out.Reason = "relay did not start: " + firstLine(err.Error())
			fmt.Fprintf(r.stderr, "bench: %v\n", err)
			return out
		}
		defer relay.stop()
		st = newRelayClient(relay.url, key, t)
	}
	if l.warm > 0 {
		w := l
		w.n, w.seed = l.warm, l.seed+"-warm"
		w.run(ctx, slug, st)
	}
	// The name goes into the directive's seed: no spaces.
	res := l.run(ctx, slug, st)
	out.Result = &res
	if relay != nil {
		relay.stop() // SIGTERM: the relay drains its chat pool and deletions
		if gone, werr := relay.exited(); gone && werr != nil {
			fmt.Fprintf(r.stderr, "bench: %s: %v\n%s", relay.name, werr, relay.logTail(10))
		}
	}
	counts, err := readChatCounts(ctx, emu.url)
	if err != nil {
		out.Reason = "emulator stats: " + err.Error()
		return out
	}
	out.Chats = counts
	return out
}

func (r *runner) binary() (string, error) {
	if r.o.relayBin != "" {
		return r.o.relayBin, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("finding the qwenrelay binary: %w", err)
	}
	return exe, nil
}

// firstTokenRelayEnv configures a relay like the throughput scenarios'
// (load, not anti-ban pacing, is measured), with the chat pool on or off.
func (r *runner) firstTokenRelayEnv(emuURL string, tokens []string, key, slug, pool string) []string {
	return []string{
		"QWENRELAY_UPSTREAM_URL=" + emuURL,
		"QWENRELAY_QWEN_TOKENS=" + strings.Join(tokens, ","),
		"QWENRELAY_API_KEY=" + key,
		"QWENRELAY_DATA_DIR=" + filepath.Join(r.e.dir, "data-"+slug),
		"QWENRELAY_MAX_IN_FLIGHT=100000",
		"QWENRELAY_ACCOUNT_MAX_CONCURRENT=100000",
		"QWENRELAY_ACCOUNT_MIN_INTERVAL=0s",
		"QWENRELAY_ACQUIRE_TIMEOUT=5m",
		"QWENRELAY_LOG_LEVEL=" + r.o.logLevel,
		"QWENRELAY_UPSTREAM_H2C=" + strconv.FormatBool(r.o.upstreamH2C),
		"QWENRELAY_CHAT_POOL=" + pool,
	}
}

// readChatCounts reads GET /qwenfake/stats.
func readChatCounts(ctx context.Context, emuURL string) (*ChatCounts, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, emuURL+"/qwenfake/stats", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	var st struct{ ChatsNew, ChatsUsed, ChatsDeleted, ChatsExpired, ChatsAlive int64 }
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("decoding: %w", err)
	}
	return &ChatCounts{Created: st.ChatsNew, Used: st.ChatsUsed, Deleted: st.ChatsDeleted,
		Expired: st.ChatsExpired, Alive: st.ChatsAlive}, nil
}

// writeFirstToken prints the firsttoken table.
func writeFirstToken(w io.Writer, ft *FirstTokenResult) {
	fmt.Fprintf(w, "chats/new %s, %d accounts; target: TTFT p50 <= %.0fms through the relay with the pool, 0 chats left after shutdown\n",
		ft.ChatDelay, ft.Accounts, ft.TargetMs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "run\tok\terrors\tcorrupt\treq/s\tttft p50\tttft p99\ttotal p50\tchats created\tused\tdeleted\texpired\tleft\t")
	for _, run := range ft.Runs {
		if run.Result == nil || !run.Result.Available {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t\n", run.Name)
			continue
		}
		t := run.Result
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.1f\t%s\t%s\t%s\t", run.Name, t.OK, t.Errors, t.Corrupted, t.ReqPerSec,
			ms(t.TTFT.P50), ms(t.TTFT.P99), ms(t.Total.P50))
		if c := run.Chats; c != nil {
			fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\t\n", c.Created, c.Used, c.Deleted, c.Expired, c.Alive)
		} else {
			fmt.Fprint(tw, "-\t-\t-\t-\t-\t\n")
		}
	}
	_ = tw.Flush()
	for _, run := range ft.Runs {
		if run.Reason != "" {
			fmt.Fprintf(w, "%s: %s\n", run.Name, run.Reason)
		}
		if run.Result != nil && len(run.Result.ErrorSamples) > 0 {
			fmt.Fprintf(w, "%s: first error: %s\n", run.Name, oneLine(run.Result.ErrorSamples[0]))
		}
	}
}
