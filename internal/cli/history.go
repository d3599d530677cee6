package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/parley-voice/parley/internal/callfmt"
	"github.com/parley-voice/parley/signaling"
)

// historyCommand is `parley history`: your own calls, kept by the server,
// the same on every device.
func (e *env) historyCommand() *cobra.Command {
	var q signaling.HistoryQuery
	var since time.Duration
	var before string
	var asJSON, keep bool
	c := &cobra.Command{
		Use:   "history",
		Short: "List your calls, missed ones included: the same on every device",
		Long: `List your calls, newest first, as the server keeps them (7 days by default):
those you placed and those placed to you, including calls refused because you
were offline, busy or in do not disturb, and calls canceled or not answered.
Missed calls not seen yet are marked "new"; listing them marks them seen on
every device of yours (not with --with, nor --keep-unseen). Page with
--before the STARTED of the last call listed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := parseBefore(before, &q.Before); err != nil {
				return err
			}
			if since < 0 {
				return &exitCode{code: exitUsage, err: fmt.Errorf("--since %v: use a duration such as 24h", since)}
			}
			if since > 0 {
				q.Since = time.Now().Add(-since)
			}
			api, _, err := e.userAPI()
			if err != nil {
				return fail(err)
			}
			h, err := api.History(cmd.Context(), q)
			if err != nil {
				return fail(err)
			}
			if asJSON {
				err = callfmt.JSON(e.stdout, h)
			} else {
				err = e.printHistory(h)
			}
			if err != nil {
				return fail(err)
			}
			if !keep && q.With == "" && len(h.Calls) > 0 && h.Unseen > 0 {
				if _, err := api.SeeHistory(cmd.Context(), h.Calls[0].Started); err != nil {
					return fail(fmt.Errorf("the calls were listed but could not be marked seen: %w", err))
				}
			}
			return nil
		},
	}
	c.Flags().BoolVar(&q.Missed, "missed", false, "only calls you missed (to you, not answered, not declined)")
	c.Flags().StringVar(&q.With, "with", "", "only calls with `USER`")
	c.Flags().DurationVar(&since, "since", 0, "only calls started in the last `DUR`, such as 24h")
	c.Flags().IntVar(&q.Limit, "limit", 0, "at most `N` calls, 1 to 1000 (default 50)")
	c.Flags().StringVar(&before, "before", "", "only calls started before `TIME` (RFC 3339): the next page")
	c.Flags().BoolVar(&keep, "keep-unseen", false, "leave the missed calls listed unseen")
	c.Flags().BoolVar(&asJSON, "json", false, `print the history as one JSON object: {"calls":[{"id", "from", `+
		`"to", "from_name", "to_name", "direction", "status", "statuses", "started", "answered", "ended", `+
		`"duration_ms", "reason", "code", "node", "guest", "missed", "unseen"}…], "seen_up_to", "unseen"}`)
	return c
}

// printHistory prints a history as a table, with the count of missed calls
// not seen yet.
func (e *env) printHistory(h signaling.History) error {
	if len(h.Calls) == 0 {
		fmt.Fprintln(e.stdout, "No calls.")
		return nil
	}
	var rows [][]string
	for _, c := range h.Calls {
		dir, who := "out", signaling.Label(c.To, c.ToName)
		if c.Direction == signaling.Inbound {
			dir, who = "in", signaling.Label(c.From, c.FromName)
		}
		st := string(c.Status)
		if c.Missed {
			st = "missed"
		}
		if c.Unseen {
			st += " (new)"
		}
		why := c.Reason
		if c.Code != 0 {
			why += " " + strconv.Itoa(int(c.Code))
		}
		dur := "-"
		if c.Answered != nil && c.Ended != nil {
			dur = (time.Duration(c.DurationMS) * time.Millisecond).Round(time.Second).String()
		}
		rows = append(rows, []string{c.Started.Local().Format("2006-01-02 15:04:05"), dir, who, st,
			dash(strings.TrimSpace(why)), dur})
	}
	if err := e.table("STARTED\tDIR\tWITH\tSTATUS\tWHY\tTALKED", rows); err != nil {
		return err
	}
	if h.Unseen > 0 {
		say(e.stdout, "%s not seen before.", signaling.MissedCalls(h.Unseen))
	}
	return nil
}

// signInNotice prints, on stderr, the lines a command that signs in says
// when missed calls wait unseen, "3 missed calls while you were away:
// Alice (2), Bob", when texts wait unread, "2 unread texts: Carol (2)",
// then the one of voice messages not heard yet. Nothing when there are
// none, or when the server cannot say (an older server): the command goes
// on either way.
func (e *env) signInNotice(ctx context.Context, api *signaling.API) {
	defer e.voiceNotice(ctx, api) // and the voice messages not heard (voicemail.go)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if h, err := api.History(ctx, signaling.HistoryQuery{Unseen: true, Limit: signaling.MaxCallsLimit}); err == nil {
		if line := signaling.MissedNotice(h); line != "" {
			say(e.stderr, "%s", signaling.Printable(line))
		}
	}
	if line, err := signaling.UnreadNotice(ctx, api); err == nil && line != "" {
		say(e.stderr, "%s", line)
	}
}
