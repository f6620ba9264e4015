//go:build !linux

package testenv

import "syscall"

// originalSysProcAttr: only Linux has a parent-death signal; elsewhere an
// original outlives a test binary that dies without its cleanups.
func originalSysProcAttr() *syscall.SysProcAttr { return nil }
