//go:build linux

package main

import "syscall"

// childProcAttr makes the kernel kill the program if this host dies first.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
