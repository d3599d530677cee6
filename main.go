// Command parley is a terminal voice-calling client and its signaling
// server. `parley` alone opens the terminal UI; the sub-commands place and
// answer calls from scripts, run the server and check who is online.
//
// This file only wires: a context that ends on an interrupt or SIGTERM,
// stderr split from file descriptor 2 (internal/stderr), and the command
// tree (internal/cli), whose exit status is the process's.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/parley-voice/parley/internal/cli"
	"github.com/parley-voice/parley/internal/stderr"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	errOut, logStderr := stderr.Split()
	code := cli.Main(ctx, os.Args[1:], os.Stdout, errOut, os.Getenv, logStderr)
	stop()
	os.Exit(code)
}
