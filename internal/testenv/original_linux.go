package testenv

import "syscall"

// originalSysProcAttr has the kernel kill the original if the test binary
// dies without running its cleanups (a -timeout panic, a SIGKILL), so no
// uvicorn outlives the tests.
func originalSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
