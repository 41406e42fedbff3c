package bench

import (
	"context"
	"fmt"
	"github.com/qwenrelay/qwenrelay/internal/app"
	"github.com/qwenrelay/qwenrelay/internal/config"
	"github.com/qwenrelay/qwenrelay/internal/keys"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// env is what the bench runs against: the emulator and the relay, started
// as children or given by URL, and why a target is missing.
type env struct {
	dir       string
	removeDir bool

	emulator *child // nil unless started here
	relay    *child

	EmulatorURL string `json:"emulator_url,omitempty"`
	RelayURL    string `json:"relay_url,omitempty"`
	RelayPID    int    `json:"relay_pid,omitempty"`
	EmulatorPID int    `json:"emulator_pid,omitempty"`
	// Missing maps a target (direct, relay) to why it cannot be measured.
	Missing map[string]string `json:"missing,omitempty"`

	apiKey string
	tokens []string // Qwen tokens, shared by the relay's pool and the direct client
}

// setup starts what must be started. A child that does not come up makes
// its target missing (reported, with the child's log on stderr), not a
// failure; only problems of the bench itself are returned as errors.
func setup(ctx context.Context, o *options, stderr io.Writer) (*env, error) {
	e := &env{dir: o.logDir, Missing: map[string]string{}}
	if e.dir == "" {
		d, err := os.MkdirTemp("", "qwenrelay-bench-")
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		e.dir, e.removeDir = d, true
	} else if err := os.MkdirAll(e.dir, 0o755); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	e.tokens = o.qwenTokens
	if len(e.tokens) == 0 {
		e.tokens = mintTokens([]byte(o.secret), o.accounts)
	}
	bin, err := relayBinary(o)
	if err != nil {
		e.close()
		return nil, err
	}
	e.startEmulator(ctx, o, bin, stderr)
	e.startRelay(ctx, o, bin, stderr)
	for t := range e.Missing {
		if !o.targets[t] {
			delete(e.Missing, t)
		}
	}
	return e, nil
}

func (e *env) startEmulator(ctx context.Context, o *options, bin string, stderr io.Writer) {
	if o.emulatorURL != "" {
		e.EmulatorURL = strings.TrimRight(o.emulatorURL, "/")
		return
	}
	if o.relayURL != "" {
		// A given relay talks to an emulator we do not know; a fresh one
		// would not be the same baseline.
		e.Missing["direct"] = "--relay-url given without --emulator-url"
		return
	}
	c, err := startChild(ctx, childSpec{
		name: "emulator", bin: bin, dir: e.dir,
		args: []string{"emulator", "--listen", "127.0.0.1:0", "--secret", o.secret, "--frame-delay", "0s", "--tokens", "64"},
	})
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		e.Missing["direct"] = "emulator did not start: " + firstLine(err.Error())
		return
	}
	e.emulator, e.EmulatorURL, e.EmulatorPID = c, c.url, c.pid()
}

func (e *env) startRelay(ctx context.Context, o *options, bin string, stderr io.Writer) {
	e.apiKey = o.apiKey
	if o.relayURL != "" {
		e.RelayURL, e.RelayPID = strings.TrimRight(o.relayURL, "/"), o.relayPID
		return
	}
	if e.EmulatorURL == "" {
		e.Missing["relay"] = "no emulator to relay to"
		return
	}
	bootstrap := "bench-" + newID()
	if e.apiKey == "" {
		e.apiKey = bootstrap
	}
	dataDir := filepath.Join(e.dir, "data")
	if o.clientKey {
		key, err := createClientKey(ctx, dataDir)
		if err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			e.Missing["relay"] = "could not create a client key: " + firstLine(err.Error())
			return
		}
		e.apiKey = key
	}
	c, err := startChild(ctx, childSpec{
		name: "relay", bin: bin, dir: e.dir,
		args: []string{"serve", "--listen", "127.0.0.1:0"},
		env: []string{
			"QWENRELAY_UPSTREAM_URL=" + e.EmulatorURL,
			"QWENRELAY_QWEN_TOKENS=" + strings.Join(e.tokens, ","),
			"QWENRELAY_API_KEY=" + bootstrap,
			"QWENRELAY_DATA_DIR=" + dataDir,
			"QWENRELAY_MAX_IN_FLIGHT=100000",
			// Load, not anti-ban pacing, is what is measured here.
			"QWENRELAY_ACCOUNT_MAX_CONCURRENT=100000",
			"QWENRELAY_ACCOUNT_MIN_INTERVAL=0s",
			"QWENRELAY_ACQUIRE_TIMEOUT=5m",
			"QWENRELAY_LOG_LEVEL=" + o.logLevel,
			"QWENRELAY_UPSTREAM_H2C=" + strconv.FormatBool(o.upstreamH2C),
		},
	})
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		e.Missing["relay"] = "relay did not start: " + firstLine(err.Error())
		return
	}
	e.relay, e.RelayURL, e.RelayPID = c, c.url, c.pid()
}

// checkAlive marks a started child that has exited since, so later results
// are not mistaken for the target's.
func (e *env) checkAlive(stderr io.Writer) {
	for target, c := range map[string]*child{"direct": e.emulator, "relay": e.relay} {
		if c == nil {
			continue
		}
		if gone, err := c.exited(); gone && e.Missing[target] == "" {
			fmt.Fprintf(stderr, "bench: %s exited: %v\n%s", c.name, err, c.logTail(20))
			e.Missing[target] = fmt.Sprintf("%s exited: %v", c.name, err)
			if c == e.emulator && e.Missing["relay"] == "" && e.relay != nil {
				e.Missing["relay"] = "its emulator exited"
			}
		}
	}
}

// close stops the children (relay first, so it does not log a dying
// upstream) and removes the temporary directory.
func (e *env) close() {
	if e.relay != nil {
		e.relay.stop()
	}
	if e.emulator != nil {
		e.emulator.stop()
	}
	if e.removeDir {
		_ = os.RemoveAll(e.dir)
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// createClientKey makes an unlimited client key in the relay's store before
// the relay starts, so requests take the managed-key path (lookup, limits,
// usage rows) rather than the bootstrap key's.
func createClientKey(ctx context.Context, dataDir string) (string, error) {
	cfg := config.Default()
	cfg.DataDir = dataDir
	st, err := app.OpenStore(ctx, cfg, nil)
	if err != nil {
		return "", err
	}
	defer st.Close()
	plain, _, err := keys.NewService(st, nil, st).Create(ctx, keys.CreateParams{Name: "bench"})
	return plain, err
}
