package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// readyTimeout bounds how long a child may take to start listening.
const readyTimeout = 30 * time.Second

// child is a qwenrelay subprocess (emulator or relay) started by the bench.
type child struct {
	name    string
	cmd     *exec.Cmd
	url     string // http://host:port, read from its ready file
	logPath string
	done    chan struct{} // closed once the process has exited
	waitErr error         // valid after done is closed
}

// childSpec says how to start a child.
type childSpec struct {
	name string
	bin  string
	args []string // the ready file flag is appended
	env  []string // added to the bench's environment minus QWENRELAY_*
	dir  string   // where its ready file and log go
}

// startChild starts a child and waits until it wrote its address to its
// ready file, it exited, or ctx/readyTimeout ended.
func startChild(ctx context.Context, spec childSpec) (*child, error) {
	ready := filepath.Join(spec.dir, spec.name+".addr")
	logPath := filepath.Join(spec.dir, spec.name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.name, err)
	}
	defer func() { _ = logf.Close() }() // the child keeps its own descriptor
	cmd := exec.Command(spec.bin, append(spec.args, "--ready-file", ready)...)
	cmd.Env = append(childEnv(os.Environ()), spec.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.name, err)
	}
	c := &child{name: spec.name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		c.waitErr = cmd.Wait()
		close(c.done)
	}()
	addr, err := c.awaitReady(ctx, ready)
	if err != nil {
		c.stop()
		return nil, fmt.Errorf("start %s: %w\n%s", spec.name, err, c.logTail(20))
	}
	c.url = addr
	return c, nil
}

// awaitReady polls the ready file until it holds a host:port.
func (c *child) awaitReady(ctx context.Context, path string) (string, error) {
	deadline := time.NewTimer(readyTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if b, err := os.ReadFile(path); err == nil {
			if u, ok := parseReadyAddr(string(b)); ok {
				return u, nil
			}
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-c.done:
			return "", fmt.Errorf("exited before listening: %v", c.waitErr)
		case <-deadline.C:
			return "", fmt.Errorf("no address in %s after %s", path, readyTimeout)
		case <-tick.C:
		}
	}
}

// parseReadyAddr accepts "host:port" or "http://host:port" (with
// surrounding space) and returns an http URL; ok is false while the file is
// still incomplete.
func parseReadyAddr(s string) (string, bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(strings.TrimPrefix(s, "http://"), "/")
	host, port, err := net.SplitHostPort(s)
	if err != nil || port == "" || port == "0" {
		return "", false
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port), true
}

// pid returns the child's process id.
func (c *child) pid() int { return c.cmd.Process.Pid }

// stop asks the child to shut down (SIGTERM), then kills it after a grace
// period, and waits for it.
func (c *child) stop() {
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
		return
	case <-time.After(10 * time.Second):
	}
	_ = c.cmd.Process.Kill()
	<-c.done
}

// exited reports whether the child has exited, and how.
func (c *child) exited() (bool, error) {
	select {
	case <-c.done:
		return true, c.waitErr
	default:
		return false, nil
	}
}

// logTail returns the last n lines of the child's log, indented.
func (c *child) logTail(n int) string {
	b, err := os.ReadFile(c.logPath)
	if err != nil || len(b) == 0 {
		return "  (" + c.name + " wrote nothing)"
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	lines = lines[max(0, len(lines)-n):]
	var sb strings.Builder
	fmt.Fprintf(&sb, "  last lines of %s:\n", c.logPath)
	for _, l := range lines {
		fmt.Fprintf(&sb, "  | %.300s\n", l)
	}
	return sb.String()
}

// childEnv drops the bench's own QWENRELAY_* settings, so a child is
// configured by the bench alone.
func childEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, "QWENRELAY_") {
			out = append(out, kv)
		}
	}
	return out
}

// errNoPID is reported when a measure needs the relay's process id.
var errNoPID = errors.New("relay process id unknown (use --relay-pid with --relay-url)")
