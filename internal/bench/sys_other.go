//go:build !linux

package bench

import (
	"errors"
	"syscall"
)

func childAttr() *syscall.SysProcAttr { return nil }

func raiseNoFile() (uint64, error) {
	return 0, errors.New("raising RLIMIT_NOFILE is only done on Linux")
}
