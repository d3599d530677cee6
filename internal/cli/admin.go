package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/parley-voice/parley/internal/callfmt"
)

// adminCommand is `parley admin`: the team's users, devices, revocation,
// teams and webhooks (webhook.go).
func (e *env) adminCommand() *cobra.Command {
	var apiKey string
	var asJSON bool // of the listings
	admin := &cobra.Command{
		Use:   "admin",
		Short: "Administer the team: users, devices, revocation, teams",
		Long: `Administer the team of the API key (--api-key or $PARLEY_API_KEY; without one,
as the signed-in user, who needs the admin role).`,
	}
	admin.PersistentFlags().StringVar(&apiKey, "api-key", "", "the team's API key (default $PARLEY_API_KEY)")
	users := &cobra.Command{
		Use:   "users",
		Short: "List the team's users with their state and devices",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			api, _, err := e.adminAPI(apiKey)
			if err != nil {
				return fail(err)
			}
			list, err := api.Users(cmd.Context())
			if err != nil {
				return fail(err)
			}
			if asJSON {
				return callfmt.List(e.stdout, "users", list)
			}
			var rows [][]string
			for _, u := range list {
				name := u.Name
				if name == "" {
					name = "-"
				}
				rows = append(rows, []string{u.User, name, u.Role, u.State.Words(), when(u.LastSeen),
					fmt.Sprint(u.Devices)})
			}
			return e.table("USER\tNAME\tROLE\tSTATE\tLAST SEEN\tDEVICES", rows)
		},
	}
	devices := &cobra.Command{
		Use:   "devices USER",
		Short: "List USER's devices, revoked ones included",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, _, err := e.adminAPI(apiKey)
			if err != nil {
				return fail(err)
			}
			list, err := api.Devices(cmd.Context(), args[0])
			if err != nil {
				return fail(err)
			}
			if asJSON {
				return callfmt.List(e.stdout, "devices", list)
			}
			var rows [][]string
			for _, d := range list {
				created := d.Created
				rows = append(rows, []string{d.ID, d.Name, when(&created), when(d.LastUsed), when(d.Revoked)})
			}
			return e.table("DEVICE\tNAME\tSIGNED IN\tLAST USED\tREVOKED", rows)
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke USER|DEVICE",
		Short: "Revoke a device, or all of a user's: they are disconnected at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, _, err := e.adminAPI(apiKey)
			if err != nil {
				return fail(err)
			}
			r, err := api.Revoke(cmd.Context(), args[0])
			if err != nil {
				return fail(err)
			}
			if !r.All {
				say(e.stdout, "Revoked device %s of %s: it was disconnected and cannot sign in again.",
					strings.Join(r.Devices, ", "), r.User)
				return nil
			}
			devs := "no device signed in"
			if len(r.Devices) > 0 {
				devs = fmt.Sprintf("%d device(s): %s", len(r.Devices), strings.Join(r.Devices, ", "))
			}
			say(e.stdout, "Revoked %s: %s, and every token issued until now; they were disconnected. "+
				"A new invite lets them back.", r.User, devs)
			return nil
		},
	}
	team := &cobra.Command{
		Use:   "team",
		Short: "Manage teams (with the server's own API key)",
	}
	teamAdd := &cobra.Command{
		Use:   "add NAME",
		Short: "Create a team; its API key is printed once, alone on the last line",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, _, err := e.adminAPI(apiKey)
			if err != nil {
				return fail(err)
			}
			t, err := api.AddTeam(cmd.Context(), args[0])
			if err != nil {
				return fail(err)
			}
			say(e.stdout, "Team %s created. Its API key, shown only now "+
				"(use it with --api-key on token, invite and admin):", t.Team)
			say(e.stdout, "%s", t.APIKey)
			return nil
		},
	}
	users.Flags().BoolVar(&asJSON, "json", false, `print the users as one JSON object: {"users":[{"user", "name", `+
		`"role", "state", "online", "last_seen", "team", "created", "devices", "disabled"}…]}`)
	devices.Flags().BoolVar(&asJSON, "json", false, `print the devices as one JSON object: {"devices":[{"id", `+
		`"user", "name", "created", "last_used", "revoked"}…]}`)
	team.AddCommand(teamAdd)
	admin.AddCommand(users, devices, revoke, team, e.webhookCommand(&apiKey), e.roomRecordsCommand(&apiKey))
	return admin
}
