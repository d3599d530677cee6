package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/parley-voice/parley/internal/callfmt"
)

// webhookCommand is `parley admin webhook`: register, list and remove the
// team's webhooks. apiKey is the admin command's --api-key.
func (e *env) webhookCommand(apiKey *string) *cobra.Command {
	webhook := &cobra.Command{
		Use:   "webhook",
		Short: "Manage the team's webhooks: URLs told of every call status change",
		Long: `A webhook receives every status change of the team's calls, and the start,
joins, leaves and end of its rooms, as a signed JSON POST (see "Call records
and webhooks" and "Room records and webhooks" in the README for the payloads
and how to verify the X-Parley-Signature header). A receiver that fails is
retried with backoff. URLs that reach loopback, private, link-local or the
server's own addresses are refused unless the server's operator allows them
(parley serve --webhook-allow).`,
	}
	add := &cobra.Command{
		Use:   "add URL",
		Short: "Register URL; its secret is printed once, alone on the last line",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, _, err := e.adminAPI(*apiKey)
			if err != nil {
				return fail(err)
			}
			w, err := api.AddWebhook(cmd.Context(), args[0])
			if err != nil {
				return fail(err)
			}
			say(e.stdout, "Webhook %s registered for %s. Its signing secret, shown only now:", w.ID, w.URL)
			say(e.stdout, "%s", w.Secret)
			return nil
		},
	}
	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List the team's webhooks",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			api, _, err := e.adminAPI(*apiKey)
			if err != nil {
				return fail(err)
			}
			hooks, err := api.Webhooks(cmd.Context())
			if err != nil {
				return fail(err)
			}
			if asJSON {
				return callfmt.List(e.stdout, "webhooks", hooks)
			}
			var rows [][]string
			for _, w := range hooks {
				created := w.Created
				rows = append(rows, []string{w.ID, w.URL, when(&created)})
			}
			return e.table("WEBHOOK\tURL\tADDED", rows)
		},
	}
	remove := &cobra.Command{
		Use:   "remove ID",
		Short: "Remove a webhook; deliveries to it still queued are dropped",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, _, err := e.adminAPI(*apiKey)
			if err != nil {
				return fail(err)
			}
			if err := api.RemoveWebhook(cmd.Context(), args[0]); err != nil {
				return fail(err)
			}
			fmt.Fprintf(e.stdout, "Webhook %s removed.\n", args[0])
			return nil
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, `print the webhooks as one JSON object: {"webhooks":[{"id", "url", `+
		`"created"}…]}`)
	webhook.AddCommand(add, list, remove)
	return webhook
}
