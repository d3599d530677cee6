package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/parley-voice/parley/internal/callfmt"
	"github.com/parley-voice/parley/signaling"
)

// roomRecordsCommand is `parley admin rooms`: the team's room records.
// apiKey is the admin command's --api-key.
func (e *env) roomRecordsCommand(apiKey *string) *cobra.Command {
	var q signaling.RoomRecordsQuery
	var before string
	var asJSON, events bool
	c := &cobra.Command{
		Use:   "rooms",
		Short: "List the team's room records: who joined and left, how each ended",
		Long: `List the team's room records, newest first (kept as long as call records, 7
days by default): when each room was made, started (its first join) and ended
and why, who took part, and how its invitations went. --events prints every
entry of each room: joins and leaves with their reason, mutes and removals
with who did them, locks, invitations. Page with --before the "created" of the
last room listed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := parseBefore(before, &q.Before); err != nil {
				return err
			}
			api, _, err := e.adminAPI(*apiKey)
			if err != nil {
				return fail(err)
			}
			recs, err := api.RoomRecords(cmd.Context(), q)
			if err != nil {
				return fail(err)
			}
			if asJSON {
				return callfmt.List(e.stdout, "rooms", recs)
			}
			if len(recs) == 0 {
				fmt.Fprintln(e.stdout, "No rooms recorded.")
				return nil
			}
			var rows [][]string
			for _, r := range recs {
				rows = append(rows, []string{r.Room, r.ID, r.Host, r.Status, when(r.Started), when(r.Ended),
					dash(r.Reason), dash(strings.Join(r.Participants, ",")), invitations(r.Invited)})
			}
			if err := e.table("ROOM\tID\tHOST\tSTATUS\tSTARTED\tENDED\tWHY\tPEOPLE\tINVITED", rows); err != nil {
				return err
			}
			if events {
				for _, r := range recs {
					e.printEntries(r)
				}
			}
			return nil
		},
	}
	c.Flags().StringVar(&q.User, "user", "", "only rooms `USER` hosted, joined or was invited to")
	c.Flags().StringVar(&q.Status, "status", "", "only rooms in `STATUS`: open (nobody joined yet), started or ended")
	c.Flags().IntVar(&q.Limit, "limit", 0, "at most `N` rooms, 1 to 1000 (default 50)")
	c.Flags().StringVar(&before, "before", "", "only rooms made before `TIME` (RFC 3339): the next page")
	c.Flags().BoolVar(&events, "events", false, "print every entry of each room after the table")
	c.Flags().BoolVar(&asJSON, "json", false, `print the records as one JSON object: {"rooms":[{"id", "room", "host", `+
		`"status", "created", "start", "end", "started", "ended", "reason", "participants", "invited":[{"user", `+
		`"status", "time"}…], "node", "events":[{"event", "time", "user", "name", "role", "by", "reason", "status", `+
		`"locked"}…]}…]}`)
	return c
}

// printEntries prints a room record's entries, one a line.
func (e *env) printEntries(r signaling.RoomRecord) {
	say(e.stdout, "\n%s (%s):", r.Room, r.ID)
	for _, en := range r.Events {
		var more []string
		for _, kv := range [][2]string{{"", en.User}, {"role ", string(en.Role)}, {"", string(en.Status)},
			{"by ", en.By}, {"", en.Reason}} {
			if kv[1] != "" {
				more = append(more, kv[0]+kv[1])
			}
		}
		if en.Locked {
			more = append(more, "locked")
		}
		say(e.stdout, "  %s  %-20s %s", en.Time.Local().Format("2006-01-02 15:04:05.000"), en.Event,
			strings.Join(more, " "))
	}
}

// invitations is a record's invitations in a cell: user:status, ...
func invitations(list []signaling.RoomInvite) string {
	var out []string
	for _, i := range list {
		st := string(i.Status)
		if st == "" {
			st = "not rung"
		}
		out = append(out, i.User+":"+st)
	}
	return dash(strings.Join(out, ","))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// parseBefore reads the --before of a paged listing (the time of the last
// row listed) into t; "" leaves t alone.
func parseBefore(before string, t *time.Time) error {
	if before == "" {
		return nil
	}
	v, err := time.Parse(time.RFC3339Nano, before)
	if err != nil {
		return &exitCode{code: exitUsage, err: fmt.Errorf("--before %q: use an RFC 3339 time, such as "+
			"2026-01-02T15:04:05Z", before)}
	}
	*t = v
	return nil
}
