package bench

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// options are the bench's command-line settings.
type options struct {
	scenarios []string

	// Overrides of the scenarios' defaults; set* say whether they were given.
	n, c, tokens        int
	delay               time.Duration
	setN, setC          bool
	setTokens, setDelay bool
	setTimeout          bool
	streams, ramp       int
	warmup              int // requests per target before measuring; -1: 2×C
	timeout             time.Duration
	rssTimeout          time.Duration

	targets     map[string]bool // direct, relay
	relayBin    string
	relayURL    string
	emulatorURL string
	relayPID    int
	apiKey      string
	qwenTokens  []string
	secret      string
	accounts    int
	logLevel    string
	upstreamH2C bool
	clientKey   bool
	logDir      string
	jsonPath    string

	faultAccounts []int  // faults: one round per account count
	faultSeed     string // faults: seed of the fault plan ("" = random)
}

// scenarioNames are the scenarios "all" runs; faults and tools run only when named.
var scenarioNames = []string{"fast", "slow", "rss", "sequential", "firsttoken"}

// knownScenarios are every scenario --scenario accepts.
var knownScenarios = append(slices.Clone(scenarioNames), "faults", "tools")

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("qwenrelay bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	scenario := fs.String("scenario", "all", "scenario to run: all (= fast,slow,rss,sequential,firsttoken), fast, slow, rss, sequential, firsttoken, faults, tools (comma-separated list allowed)")
	fs.IntVar(&o.n, "n", 0, "requests per target (overrides the scenario's N; fast/slow; faults: per round)")
	fs.IntVar(&o.c, "c", 0, "concurrency (overrides the scenario's C; fast/slow/faults)")
	fs.IntVar(&o.tokens, "tokens", 0, "tokens per answer (overrides the scenario's)")
	fs.DurationVar(&o.delay, "delay", 0, "emulator delay between frames (overrides the scenario's)")
	fs.IntVar(&o.streams, "streams", 10000, "rss: concurrent streams held open through the relay")
	fs.IntVar(&o.ramp, "ramp", 1000, "rss: streams being opened at once")
	fs.IntVar(&o.warmup, "warmup", -1, "unmeasured requests per target before each run (-1: 2×C)")
	fs.DurationVar(&o.timeout, "timeout", 3*time.Minute, "wall-time bound of one run against one target (faults: of one round, default 55s)")
	fs.DurationVar(&o.rssTimeout, "rss-timeout", 3*time.Minute, "rss: bound on opening every stream")
	targets := fs.String("targets", "direct,relay", "targets to measure: direct (emulator, Qwen v2), relay (OpenAI)")
	fs.StringVar(&o.relayBin, "relay-bin", "", "qwenrelay binary started as emulator and relay (default: this executable)")
	fs.StringVar(&o.relayURL, "relay-url", "", "use this running relay instead of starting one (loopback only)")
	fs.StringVar(&o.emulatorURL, "emulator-url", "", "use this running emulator instead of starting one (loopback only)")
	fs.IntVar(&o.relayPID, "relay-pid", 0, "rss: process id of the relay given by --relay-url")
	fs.StringVar(&o.apiKey, "api-key", "", "relay API key (default: random for a started relay, none for --relay-url)")
	qwenTokens := fs.String("qwen-tokens", "", "comma-separated Qwen tokens (default: minted with --secret)")
	fs.StringVar(&o.secret, "secret", "qwenrelay-bench-secret", "emulator JWT secret")
	fs.IntVar(&o.accounts, "accounts", 4, "tokens minted for the relay's account pool (direct requests rotate over the same)")
	fs.StringVar(&o.logLevel, "relay-log-level", "info", "log level of a started relay (info: one line per request, as deployed)")
	fs.BoolVar(&o.clientKey, "client-key", false, "authenticate with a managed client key (limits checked, usage rows written) instead of the bootstrap key")
	fs.BoolVar(&o.upstreamH2C, "upstream-h2c", false, "started relay speaks HTTP/2 (h2c) to the emulator, as it speaks HTTP/2 to the real upstream (not faults: HTTP/1.1)")
	fs.StringVar(&o.logDir, "log-dir", "", "directory for the children's ready files and logs (default: a temporary one, removed)")
	fs.StringVar(&o.jsonPath, "json", "", "also write the results as JSON to this file")
	faultAccounts := fs.String("fault-accounts", "1,2,5", "faults: account counts, one round each")
	fs.StringVar(&o.faultSeed, "fault-seed", "", "faults: seed of the fault plan, to replay a run (default: random)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("bench: unexpected arguments %q", fs.Args())
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "n":
			o.setN = true
		case "c":
			o.setC = true
		case "tokens":
			o.setTokens = true
		case "delay":
			o.setDelay = true
		case "timeout":
			o.setTimeout = true
		}
	})
	o.qwenTokens = splitList(*qwenTokens)
	var err error
	if o.scenarios, err = parseScenarios(*scenario); err != nil {
		return nil, err
	}
	if o.targets, err = parseTargets(*targets); err != nil {
		return nil, err
	}
	if o.faultAccounts, err = parseCounts(*faultAccounts); err != nil {
		return nil, err
	}
	return o, o.validate()
}

func (o *options) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("bench: "+format, args...)) }
	if o.setN && o.n <= 0 {
		bad("-n must be positive")
	}
	if o.setC && o.c <= 0 {
		bad("-c must be positive")
	}
	if o.setTokens && o.tokens <= 0 {
		bad("--tokens must be positive")
	}
	if o.delay < 0 || o.timeout <= 0 || o.rssTimeout <= 0 {
		bad("--delay must be >= 0, --timeout and --rss-timeout > 0")
	}
	if o.streams <= 0 || o.ramp <= 0 || o.accounts <= 0 {
		bad("--streams, --ramp and --accounts must be positive")
	}
	for name, u := range map[string]string{"--relay-url": o.relayURL, "--emulator-url": o.emulatorURL} {
		if err := checkLoopbackURL(u); u != "" && err != nil {
			bad("%s: %v", name, err)
		}
	}
	if o.secret == "" {
		bad("--secret must not be empty")
	}
	return errors.Join(errs...)
}

// checkLoopbackURL accepts http URLs whose host is a loopback IP or
// "localhost": the bench never connects anywhere else.
func checkLoopbackURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("want http://127.0.0.1:PORT, got %q", s)
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); (ip == nil || !ip.IsLoopback()) && host != "localhost" {
		return fmt.Errorf("%q is not a loopback address", host)
	}
	return nil
}

func parseScenarios(s string) ([]string, error) {
	if s == "all" {
		return scenarioNames, nil
	}
	var out []string
	for _, name := range splitList(s) {
		if !slices.Contains(knownScenarios, name) {
			return nil, fmt.Errorf("bench: unknown scenario %q (want all, %s)", name, strings.Join(knownScenarios, ", "))
		}
		out = append(out, name)
	}
	if len(out) == 0 {
		return nil, errors.New("bench: no scenario")
	}
	return out, nil
}

func parseTargets(s string) (map[string]bool, error) {
	m := map[string]bool{}
	for _, t := range splitList(s) {
		if t != "direct" && t != "relay" {
			return nil, fmt.Errorf("bench: unknown target %q (want direct, relay)", t)
		}
		m[t] = true
	}
	if len(m) == 0 {
		return nil, errors.New("bench: no target")
	}
	return m, nil
}

// maxFaultAccounts bounds --fault-accounts (accounts are made per run).
const maxFaultAccounts = 64

// parseCounts parses --fault-accounts: positive account counts.
func parseCounts(s string) ([]int, error) {
	var out []int
	for _, p := range splitList(s) {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > maxFaultAccounts {
			return nil, fmt.Errorf("bench: --fault-accounts: want counts between 1 and %d, got %q", maxFaultAccounts, p)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("bench: --fault-accounts: no account count")
	}
	return out, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
