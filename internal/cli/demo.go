//go:build !client

package cli

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/internal/echo"
	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server"
)

func (e *env) demoCommand() *cobra.Command {
	var f mediaFlags
	var plain bool
	c := &cobra.Command{
		Use:   "demo",
		Short: "Start a server and an echo service here, and call it",
		Long: `Start an embedded server and the echo service, sign in as you, and open the UI
with the echo contact online: press enter to call it and hear yourself a second
later. With --no-ui, call the echo service straight away and print what happens.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			log, err := e.logger("parley")
			if err != nil {
				return fail(err)
			}
			dir, err := os.MkdirTemp("", "parley-demo-")
			if err != nil {
				return fail(err)
			}
			defer os.RemoveAll(dir)
			srv, err := server.New(server.Config{Listen: "127.0.0.1:0", DataDir: dir,
				Logger: log.With("component", "server")})
			if err != nil {
				return fail(err)
			}
			if err := srv.Start(ctx); err != nil {
				return fail(err)
			}
			defer func() {
				sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				defer cancel()
				_ = srv.Shutdown(sctx) // the demo is over: a slow shutdown is not the user's problem
			}()
			e.servers = []string{"http://" + srv.Addr()}
			echoToken, err := srv.IssueToken(ctx, "echo", server.TokenOptions{})
			if err != nil {
				return fail(err)
			}
			echoPhone, err := echo.Start(ctx, call.Config{Server: e.servers[0], Token: echoToken,
				Logger: log.With("component", "echo")}, time.Second)
			if err != nil {
				return fail(err)
			}
			defer echoPhone.Close()
			go func() { // the echo service's events are not shown
				for range echoPhone.Events() {
				}
			}()
			me := localUser()
			if e.token, err = srv.IssueToken(ctx, me, server.TokenOptions{}); err != nil {
				return fail(err)
			}
			if !plain {
				e.ice, e.audio = f.ice, f.audio
				return e.openUI(ctx, log, []string{"echo"})
			}
			ph, pr, err := e.phone(ctx, f, call.Config{})
			if err != nil {
				return err
			}
			defer ph.Close()
			fmt.Fprintf(e.stdout, "signed in as %s at %s; calling the echo service (interrupt to hang up)\n", me,
				e.servers[0])
			ph.Dial("echo")
			return converse(ctx, ph, pr, f.hold, 0, nil, nil)
		},
	}
	f.register(c)
	c.Flags().BoolVar(&plain, "no-ui", false, "call the echo service without the UI")
	return c
}

// localUser is a user id made from the login name, or "me".
func localUser() string {
	u, err := user.Current()
	if err != nil {
		return "me"
	}
	name := strings.Map(func(r rune) rune {
		if signaling.ValidID(string(r)) {
			return r
		}
		return -1
	}, u.Username)
	if name == "" || name == "echo" {
		return "me"
	}
	return name
}
