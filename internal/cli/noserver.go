//go:build client

package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

// The client build (go build -tags client, make client) leaves out the
// signaling server, with its NATS, JetStream and TURN: the program is 13 MB
// smaller, and, as the kernel maps a program's file into memory whole, so
// is the resident memory of every call. Its serve and demo commands say
// which build has them.

func (e *env) serveCommand() *cobra.Command {
	return serverOnly("serve", "Run the signaling server")
}

func (e *env) demoCommand() *cobra.Command {
	return serverOnly("demo", "Start a server and an echo service here, and call it")
}

func serverOnly(use, short string) *cobra.Command {
	return &cobra.Command{
		Use:                use,
		Short:              short + " (not in this client build)",
		DisableFlagParsing: true,
		RunE: func(*cobra.Command, []string) error {
			return fail(fmt.Errorf("this parley is the client build, without the server: 'parley %s' needs the "+
				"full build (make build, or go build without -tags client)", use))
		},
	}
}
