package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/app"
	"github.com/qwenrelay/qwenrelay/internal/config"
	"github.com/qwenrelay/qwenrelay/internal/pool"
	"github.com/qwenrelay/qwenrelay/internal/store/sqlite"
)

// cli is what every operator command gets: its arguments, environment and
// streams. The commands run in-process so tests call run directly.
type cli struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// toolCmd is one parsed operator command: its flag set and, after parse,
// the configuration and positional arguments.
type toolCmd struct {
	fs       *flag.FlagSet
	load     func() (config.Config, error)
	logLevel *string
	args     []string
}

// newTool builds the flag set of command name (e.g. "accounts add") with
// the flags every tool takes: --config, --data-dir, --upstream-url and
// --log-level. synopsis is the usage line after "qwenrelay ".
func (c *cli) newTool(name, synopsis, about string) *toolCmd {
	fs := flag.NewFlagSet("qwenrelay "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	t := &toolCmd{fs: fs}
	t.load = config.ToolFlags(fs, c.getenv)
	t.logLevel = fs.String("log-level", "warn", "log level of this command: debug, info, warn or error (account state lines from info)")
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "Usage: qwenrelay %s\n\n%s\n\nFlags:\n", synopsis, about)
		fs.PrintDefaults()
	}
	return t
}

// parse parses args, allowing flags after positional arguments
// ("keys update 3 --rpm 10"), and checks the number of positional
// arguments.
func (t *toolCmd) parse(args []string, minPos, maxPos int) error {
	var pos []string
	for {
		if err := t.fs.Parse(args); err != nil {
			return err
		}
		if t.fs.NArg() == 0 {
			break
		}
		pos = append(pos, t.fs.Arg(0))
		args = t.fs.Args()[1:]
	}
	t.args = pos
	switch {
	case len(pos) < minPos:
		t.fs.Usage()
		return fmt.Errorf("%s: missing argument", t.fs.Name())
	case len(pos) > maxPos:
		t.fs.Usage()
		return fmt.Errorf("%s: unexpected arguments: %s", t.fs.Name(), strings.Join(pos[maxPos:], " "))
	}
	return nil
}

// id parses positional argument i as a record ID.
func (t *toolCmd) id(i int) (int64, error) {
	n, err := strconv.ParseInt(t.args[i], 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s: %q is not an ID (want a positive number, see the list command)", t.fs.Name(), t.args[i])
	}
	return n, nil
}

// toolEnv is the opened state of a tool: the store and, for the accounts
// commands, the upstream client and the pool. close releases everything.
type toolEnv struct {
	cfg   config.Config
	log   *slog.Logger
	st    *sqlite.DB
	pool  *pool.Pool // nil unless opened withPool
	close func()
}

// open loads the configuration and opens the store. Without create, a
// missing database is an error rather than a new empty one, so a command
// run with the wrong --data-dir does not quietly create a database and a
// master key there. withPool also builds the upstream client and loads the
// account pool.
func (c *cli) open(ctx context.Context, t *toolCmd, create, withPool bool) (*toolEnv, error) {
	cfg, err := t.load()
	if err != nil {
		return nil, err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*t.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", *t.logLevel)
	}
	log := slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: level}))
	if !create {
		db := filepath.Join(cfg.DataDir, app.DBFileName)
		if _, err := os.Stat(db); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no database at %s: is --data-dir (QWENRELAY_DATA_DIR) the relay's?", db)
		}
	}
	st, err := app.OpenStore(ctx, cfg, log)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	e := &toolEnv{cfg: cfg, log: log, st: st, close: func() {
		if err := st.Close(); err != nil {
			log.Error("closing the store", "error", err)
		}
	}}
	if withPool {
		if err := c.loadPool(ctx, e, level); err != nil {
			e.close()
			return nil, err
		}
	}
	return e, nil
}

// loadPool builds the upstream client and the account pool of e and loads
// the accounts; e.close then also closes the client's idle connections.
func (c *cli) loadPool(ctx context.Context, e *toolEnv, level slog.Level) error {
	up, tr, err := app.NewUpstream(e.cfg)
	if err != nil {
		return fmt.Errorf("upstream client: %w", err)
	}
	closeStore := e.close
	e.close = func() {
		tr.CloseIdleConnections()
		closeStore()
	}
	// The pool logs account state changes, at warn for invalid and
	// quarantined accounts, also when it merely loads them: every list
	// would repeat them. The commands print the states themselves, so the
	// pool speaks only from --log-level info (or for errors).
	poolLog := e.log
	if level >= slog.LevelWarn {
		poolLog = slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: max(level, slog.LevelError)}))
	}
	e.pool = app.NewPool(e.cfg, e.st, up, tr, nil, poolLog)
	if err := e.pool.Load(ctx); err != nil {
		return fmt.Errorf("load accounts: %w", err)
	}
	return nil
}

// readSecret reads the first line of r, without its line ending. what
// names the secret in errors.
func readSecret(r io.Reader, what string) (string, error) {
	if r == nil {
		return "", fmt.Errorf("reading the %s: no standard input", what)
	}
	line, err := bufio.NewReader(io.LimitReader(r, 64<<10)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the %s from standard input: %w", what, err)
	}
	line = strings.TrimRight(line, "\r\n")
	if strings.TrimSpace(line) == "" {
		return "", fmt.Errorf("reading the %s from standard input: empty", what)
	}
	return line, nil
}

// writeJSON writes v indented, with a final newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// fmtTime formats t in UTC to the second, "-" when zero.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// fmtRelative adds how far t is from now: "2026-11-01T10:00:00Z (in 3d 4h)".
func fmtRelative(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := t.Sub(now)
	if d < 0 {
		return fmt.Sprintf("%s (%s ago)", fmtTime(t), roughDuration(-d))
	}
	return fmt.Sprintf("%s (in %s)", fmtTime(t), roughDuration(d))
}

// roughDuration is d for a person: "3d 4h", "5h 12m", "4m 10s".
func roughDuration(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d >= 2*day:
		d = d.Round(time.Hour)
		return fmt.Sprintf("%dd %dh", d/day, d%day/time.Hour)
	case d >= time.Hour:
		d = d.Round(time.Minute)
		return fmt.Sprintf("%dh %dm", d/time.Hour, d%time.Hour/time.Minute)
	}
	d = d.Round(time.Second)
	return fmt.Sprintf("%dm %ds", d/time.Minute, d%time.Minute/time.Second)
}

// orDash returns s, or "-" when empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// limit formats a numeric limit, 0 meaning unlimited.
func limit[T int | int64](v T) string {
	if v == 0 {
		return "unlimited"
	}
	return strconv.FormatInt(int64(v), 10)
}

// group dispatches a command group ("accounts", "keys") to its
// subcommands, printing help for "help", "-h" or a missing subcommand.
func group(name, help string, args []string, stdout, stderr io.Writer, subs map[string]func([]string) error) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, help)
		return fmt.Errorf("%s: missing subcommand", name)
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, help)
		return nil
	}
	if f := subs[args[0]]; f != nil {
		return f(args[1:])
	}
	fmt.Fprint(stderr, help)
	return fmt.Errorf("%s: unknown subcommand %q", name, args[0])
}
