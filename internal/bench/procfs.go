package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
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

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times (100 on every
// Linux architecture Go supports).
const clockTicks = 100

// procCPU returns the CPU time (user + system) a process has used, in
// seconds; 0 when unknown (pid 0, no /proc).
func procCPU(pid int) float64 {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; fields count from after it.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseUint(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0
	}
	return float64(utime+stime) / clockTicks
}

// cpuMeter measures the CPU each process spends during a run.
type cpuMeter struct {
	pids  [3]int // bench, emulator, relay
	start [3]float64
}

func startCPU(emulatorPID, relayPID int) *cpuMeter {
	m := &cpuMeter{pids: [3]int{os.Getpid(), emulatorPID, relayPID}}
	for i, p := range m.pids {
		m.start[i] = procCPU(p)
	}
	return m
}

// CPUPerRequest is the CPU milliseconds each process spent per successful
// request of a run; 0 when unknown.
type CPUPerRequest struct {
	Bench    float64 `json:"bench_ms"`
	Emulator float64 `json:"emulator_ms"`
	Relay    float64 `json:"relay_ms"`
}

func (m *cpuMeter) perRequest(ok int) CPUPerRequest {
	var v [3]float64
	for i, p := range m.pids {
		if p != 0 && ok > 0 {
			v[i] = math.Round((procCPU(p)-m.start[i])*1e6/float64(ok)) / 1000
		}
	}
	return CPUPerRequest{Bench: v[0], Emulator: v[1], Relay: v[2]}
}
