package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// procStats is what /proc tells about a process.
type procStats struct {
	RSSKB   int64 `json:"rss_kb"`
	Threads int   `json:"threads"`
	FDs     int   `json:"fds"`
}

// readProc reads VmRSS and Threads from /proc/<pid>/status and counts the
// entries of /proc/<pid>/fd.
func readProc(pid int) (procStats, error) {
	var ps procStats
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ps, err
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(value)
		if len(fields) == 0 {
			continue
		}
		switch name {
		case "VmRSS":
			ps.RSSKB, _ = strconv.ParseInt(fields[0], 10, 64) // unit is kB
		case "Threads":
			ps.Threads, _ = strconv.Atoi(fields[0])
		}
	}
	if err := sc.Err(); err != nil {
		return ps, err
	}
	if ps.RSSKB == 0 {
		return ps, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
	}
	ps.FDs, err = countFDs(pid)
	return ps, err
}

func countFDs(pid int) (int, error) {
	d, err := os.Open(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, err
	}
	defer func() { _ = d.Close() }()
	n := 0
	for {
		names, err := d.Readdirnames(4096)
		n += len(names)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// parseGoroutines finds the goroutine count in a Prometheus exposition
// (go_goroutines) or a pprof goroutine profile header; -1 when absent.
func parseGoroutines(body []byte) int {
	for line := range bytes.Lines(body) {
		line = bytes.TrimSpace(line)
		var rest []byte
		switch {
		case bytes.HasPrefix(line, []byte("go_goroutines ")):
			rest = line[len("go_goroutines "):]
		case bytes.HasPrefix(line, []byte("goroutine profile: total ")):
			rest = line[len("goroutine profile: total "):]
		default:
			continue
		}
		if f, err := strconv.ParseFloat(string(bytes.Fields(rest)[0]), 64); err == nil {
			return int(f)
		}
	}
	return -1
}
