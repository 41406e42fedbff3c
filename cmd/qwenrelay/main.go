// Command qwenrelay serves the OpenAI API on top of Qwen Chat.
//
//	qwenrelay [serve] [flags]   run the relay (default)
//	qwenrelay emulator [flags]  run the Qwen Chat upstream emulator
//	qwenrelay bench [flags]     load-test the relay against the emulator
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/qwenrelay/qwenrelay/internal/bench"
	"github.com/qwenrelay/qwenrelay/internal/config"
	"github.com/qwenrelay/qwenrelay/internal/qwenfake"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "qwenrelay:", err)
		}
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
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
	case "version":
		fmt.Fprintln(stdout, "qwenrelay", version)
		return nil
	case "help", "-h", "--help":
		usage(stdout)
		return nil
	}
	usage(stderr)
	return fmt.Errorf("unknown command %q", cmd)
}

func usage(w io.Writer) {
	fmt.Fprint(w, `qwenrelay: the OpenAI API on top of Qwen Chat.

Usage:
  qwenrelay [serve] [flags]   run the relay (flags and QWENRELAY_* env: qwenrelay serve -h)
  qwenrelay emulator [flags]  run the Qwen Chat emulator used by tests and benchmarks
  qwenrelay bench [flags]     load-test the relay against the emulator
  qwenrelay version
`)
}
