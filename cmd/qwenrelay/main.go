// Command qwenrelay serves the OpenAI API on top of Qwen Chat.
//
//	qwenrelay [serve] [flags]   run the relay (default)
//	qwenrelay emulator [flags]  run the Qwen Chat upstream emulator
//	qwenrelay bench [flags]     load-test the relay against the emulator
//	qwenrelay accounts ...      manage the Qwen accounts in the store
//	qwenrelay keys ...          manage the client API keys
//	qwenrelay usage [flags]     show usage records or per-day totals
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/qwenrelay/qwenrelay/internal/bench"
	"github.com/qwenrelay/qwenrelay/internal/config"
	"github.com/qwenrelay/qwenrelay/internal/qwenfake"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return // help was asked for and printed
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "qwenrelay:", err)
		os.Exit(2)
	}
}

// run runs the command in args. Every failure, misuse included, is an
// error (exit code 2); flag.ErrHelp means help was printed.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		switch args[0] {
		case "-h", "-help", "--help":
			// The overview, not serve's flags (those are 'serve -h').
			cmd, args = "help", args[1:]
		case "-version", "--version":
			cmd, args = "version", args[1:]
		default:
			if len(args[0]) > 0 && args[0][0] != '-' {
				cmd, args = args[0], args[1:]
			}
		}
	}
	switch cmd {
	case "serve":
		cfg, err := config.Load(args, getenv, stderr)
		if err != nil {
			return err
		}
		return serve(ctx, cfg, stderr)
	case "emulator":
		return qwenfake.Main(ctx, args, stdout, stderr)
	case "bench":
		return bench.Main(ctx, args, stdout, stderr)
	case "accounts":
		return (&cli{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}).accountsCmd(ctx, args)
	case "keys":
		return (&cli{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}).keysCmd(ctx, args)
	case "usage":
		if len(args) > 0 && args[0] == "help" {
			args = []string{"-h"}
		}
		return (&cli{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}).usageCmd(ctx, args)
	case "version":
		fmt.Fprintln(stdout, "qwenrelay", versionString())
		return nil
	case "help":
		printUsage(stdout)
		return nil
	}
	printUsage(stderr)
	return fmt.Errorf("unknown command %q", cmd)
}

// versionString is the version set at build time, or for a plain
// 'go build' the commit it was built from, when Go recorded it.
func versionString() string {
	if version != "dev" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return version
	}
	rev, dirty := "", false
	for _, kv := range bi.Settings {
		switch kv.Key {
		case "vcs.revision":
			rev = kv.Value
		case "vcs.modified":
			dirty = kv.Value == "true"
		}
	}
	if rev == "" {
		return version
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return version + " (" + rev + ")"
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, `qwenrelay: the OpenAI API on top of Qwen Chat.

Usage:
  qwenrelay [serve] [flags]   run the relay (flags and QWENRELAY_* env: qwenrelay serve -h)
  qwenrelay emulator [flags]  run the Qwen Chat emulator used by tests and benchmarks
  qwenrelay bench [flags]     load-test the relay against the emulator
  qwenrelay version           print the version (also --version)
  qwenrelay help              this overview (also -h, --help)

Operator commands (work on the store in --data-dir; a running relay picks up changes):
  qwenrelay accounts add|list|enable|disable|delete|test   the Qwen accounts
  qwenrelay keys create|list|revoke|update                 the client API keys
  qwenrelay usage [--daily] [filters]                      usage records and per-day totals
  (qwenrelay <command> help, or -h after a subcommand, for details)
`)
}
