package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/qwenrelay/qwenrelay/internal/pool"
	"github.com/qwenrelay/qwenrelay/internal/qwenfake"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// cliEnv runs the CLI in-process against a data directory of its own and
// an emulated upstream, and keeps every output so tests can check that no
// secret was ever printed.
type cliEnv struct {
	t       *testing.T
	emu     *qwenfake.Server
	dataDir string
	vars    map[string]string
	out     strings.Builder // every stdout and stderr, and every error
	secrets []string        // must never appear in out
}

func newCLIEnv(t *testing.T) *cliEnv {
	t.Helper()
	emu := qwenfake.New(qwenfake.Options{})
	srv := httptest.NewServer(emu)
	e := &cliEnv{t: t, emu: emu, dataDir: t.TempDir()}
	e.vars = map[string]string{
		"QWENRELAY_DATA_DIR":     e.dataDir,
		"QWENRELAY_UPSTREAM_URL": srv.URL,
		// A serve-only setting that would fail serve's validation (public
		// address, no API key) must not stop the operator tools.
		"QWENRELAY_LISTEN": "0.0.0.0:8080",
	}
	t.Cleanup(func() {
		emu.Close()
		srv.CloseClientConnections()
		srv.Close()
		for _, s := range e.secrets {
			if strings.Contains(e.out.String(), s) {
				t.Errorf("a secret (%.8s…) appears in the CLI's output", s)
			}
		}
	})
	return e
}

func (e *cliEnv) getenv(k string) string { return e.vars[k] }

// token mints an upstream token for user and remembers it as a secret.
func (e *cliEnv) token(user string) string {
	tok := e.emu.MintToken(user, time.Hour)
	e.secrets = append(e.secrets, tok)
	return tok
}

// run runs the CLI with stdin and returns its stdout, stderr and error.
func (e *cliEnv) run(stdin string, args ...string) (string, string, error) {
	e.t.Helper()
	var stdout, stderr strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := run(ctx, args, e.getenv, strings.NewReader(stdin), &stdout, &stderr)
	e.out.WriteString(stdout.String())
	e.out.WriteString(stderr.String())
	if err != nil {
		e.out.WriteString(err.Error())
	}
	return stdout.String(), stderr.String(), err
}

// ok runs the CLI and fails the test on an error.
func (e *cliEnv) ok(stdin string, args ...string) string {
	e.t.Helper()
	out, errOut, err := e.run(stdin, args...)
	if err != nil {
		e.t.Fatalf("qwenrelay %s: %v\nstderr: %s", strings.Join(args, " "), err, errOut)
	}
	return out
}

// fail runs the CLI, expects an error and returns its text.
func (e *cliEnv) fail(stdin string, args ...string) string {
	e.t.Helper()
	_, _, err := e.run(stdin, args...)
	if err == nil {
		e.t.Fatalf("qwenrelay %s: succeeded, want an error", strings.Join(args, " "))
	}
	return err.Error()
}

// accounts lists the accounts as JSON.
func (e *cliEnv) accounts() []pool.AccountStatus {
	e.t.Helper()
	var list []pool.AccountStatus
	if err := json.Unmarshal([]byte(e.ok("", "accounts", "list", "--json")), &list); err != nil {
		e.t.Fatalf("accounts list --json: %v", err)
	}
	return list
}

// assertOnDisk fails if s appears in any file of the data directory (the
// store must keep secrets encrypted or hashed).
func (e *cliEnv) assertNotOnDisk(s string) {
	e.t.Helper()
	err := filepath.WalkDir(e.dataDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), s) {
			e.t.Errorf("a secret is stored in the clear in %s", filepath.Base(path))
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

func wantContains(t *testing.T, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("output lacks %q:\n%s", w, got)
		}
	}
}

func TestMisuse(t *testing.T) {
	e := newCLIEnv(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown command", []string{"acounts"}, `unknown command "acounts"`},
		{"missing accounts subcommand", []string{"accounts"}, "missing subcommand"},
		{"unknown accounts subcommand", []string{"accounts", "frobnicate"}, `unknown subcommand "frobnicate"`},
		{"unknown keys subcommand", []string{"keys", "delete", "1"}, `unknown subcommand "delete"`},
		{"missing id", []string{"accounts", "disable"}, "missing argument"},
		{"bad id", []string{"keys", "revoke", "abc"}, `"abc" is not an ID`},
		{"extra argument", []string{"accounts", "enable", "1", "2"}, "unexpected arguments: 2"},
		{"bad flag", []string{"keys", "list", "--colour"}, "flag provided but not defined"},
		{"bad flag value", []string{"keys", "create", "--name", "x", "--rpm", "many"}, "invalid value"},
		{"no credentials", []string{"accounts", "add", "--name", "x"}, "give --token"},
		{"email without password", []string{"accounts", "add", "--email", "a@b.c"}, "--email needs --password-stdin"},
		{"two stdin readers", []string{"accounts", "add", "--email", "a@b.c", "--token", "-", "--password-stdin"}, "both read standard input"},
		{"empty stdin token", []string{"accounts", "add", "--token", "-"}, "empty"},
		{"keys create without name", []string{"keys", "create"}, "--name is required"},
		{"keys update without change", []string{"keys", "update", "1"}, "nothing to change"},
		{"expires and no-expiry", []string{"keys", "update", "1", "--expires", "1h", "--no-expiry"}, "exclude each other"},
		{"bad usage date", []string{"usage", "--from", "yesterday"}, "want RFC 3339"},
		{"usage range backwards", []string{"usage", "--from", "2026-11-02", "--to", "2026-11-01"}, "--from must be before --to"},
		{"no database yet", []string{"accounts", "list"}, "no database at"},
		{"bad config file", []string{"keys", "list", "--config", filepath.Join(t.TempDir(), "missing.yaml")}, "config file"},
		{"bad upstream URL", []string{"accounts", "list", "--upstream-url", "ftp://x"}, "upstream_url"},
		{"bad log level", []string{"keys", "list", "--log-level", "loud"}, "--log-level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := e.fail("", tt.args...); !strings.Contains(got, tt.want) {
				t.Errorf("error %q, want it to contain %q", got, tt.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(e.dataDir, "qwenrelay.db")); err == nil {
		t.Error("a command that failed or only reads created the database")
	}
}

func TestHelp(t *testing.T) {
	e := newCLIEnv(t)
	for _, args := range [][]string{{"accounts", "add", "-h"}, {"keys", "update", "-h"}, {"usage", "-h"}, {"usage", "help"}} {
		_, errOut, err := e.run("", args...)
		if !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%v: error %v, want flag.ErrHelp", args, err)
		}
		wantContains(t, errOut, "Usage: qwenrelay "+args[0], "-data-dir", "-config")
	}
	for _, args := range [][]string{{"accounts", "help"}, {"keys", "-h"}, {"help"}} {
		out := e.ok("", args...)
		wantContains(t, out, "Usage:")
	}
	wantContains(t, e.ok("", "help"), "qwenrelay accounts", "qwenrelay keys", "qwenrelay usage")
}

// Issue 6: 'qwenrelay --help' showed serve's flags instead of the command
// overview, and 'qwenrelay --version' was an unknown flag.
func TestTopLevelHelpAndVersion(t *testing.T) {
	e := newCLIEnv(t)
	for _, arg := range []string{"--help", "-h", "-help", "help"} {
		t.Run(arg, func(t *testing.T) {
			out := e.ok("", arg)
			wantContains(t, out, "qwenrelay [serve]", "qwenrelay emulator", "qwenrelay bench", "qwenrelay accounts",
				"qwenrelay keys", "qwenrelay usage", "qwenrelay version")
			if strings.Contains(out, "-account-max-concurrent") {
				t.Error("the overview lists serve's flags")
			}
		})
	}
	for _, arg := range []string{"--version", "-version", "version"} {
		t.Run(arg, func(t *testing.T) {
			if out := e.ok("", arg); !strings.HasPrefix(out, "qwenrelay ") || strings.Count(out, "\n") != 1 {
				t.Errorf("version output %q", out)
			}
		})
	}
	// serve's own help still lists its flags.
	if _, errOut, err := e.run("", "serve", "-h"); !errors.Is(err, flag.ErrHelp) || !strings.Contains(errOut, "-listen") {
		t.Errorf("serve -h: %v %q", err, errOut)
	}
}

func TestToolConfig(t *testing.T) {
	e := newCLIEnv(t)
	other := t.TempDir()
	cfgFile := filepath.Join(t.TempDir(), "qwenrelay.yaml")
	if err := os.WriteFile(cfgFile, []byte("data_dir: "+other+"\nlisten: 0.0.0.0:9\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The environment overrides the file, as for serve.
	e.ok("", "keys", "create", "--name", "env-dir", "--config", cfgFile)
	if _, err := os.Stat(filepath.Join(e.dataDir, "qwenrelay.db")); err != nil {
		t.Errorf("env QWENRELAY_DATA_DIR not used: %v", err)
	}
	// The flag overrides both.
	e.ok("", "keys", "create", "--name", "flag-dir", "--config", cfgFile, "--data-dir", other)
	wantContains(t, e.ok("", "keys", "list", "--data-dir", other), "flag-dir")
	if out := e.ok("", "keys", "list"); strings.Contains(out, "flag-dir") {
		t.Errorf("--data-dir wrote to the env's data dir:\n%s", out)
	}
	// Without the env, the file's data_dir is used.
	delete(e.vars, "QWENRELAY_DATA_DIR")
	wantContains(t, e.ok("", "keys", "list", "--config", cfgFile), "flag-dir")
	e.vars["QWENRELAY_CONFIG"] = cfgFile
	wantContains(t, e.ok("", "keys", "list"), "flag-dir")
}
