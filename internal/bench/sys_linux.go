package bench

import (
	"fmt"
	"os"
	"syscall"
)

// childAttr makes children die with the bench (no orphans after a crash) and
// puts them in their own process group, so a terminal's Ctrl-C reaches the
// bench only and the bench shuts them down in order.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}

// raiseNoFile raises RLIMIT_NOFILE for the bench and the children it starts
// (they inherit it): as root to 1<<20 (both limits), otherwise, or if that
// fails, the soft limit to the hard one. It returns the resulting soft limit.
func raiseNoFile() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("getrlimit: %w", err)
	}
	if os.Geteuid() == 0 && lim.Max < 1<<20 {
		want := syscall.Rlimit{Cur: 1 << 20, Max: 1 << 20}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err == nil {
			return want.Cur, nil
		}
	}
	want := syscall.Rlimit{Cur: max(lim.Max, lim.Cur), Max: lim.Max}
	// Setting it even when unchanged makes children inherit this value
	// rather than the limit the Go runtime saved at startup.
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		return lim.Cur, fmt.Errorf("setrlimit: %w", err)
	}
	return want.Cur, nil
}
