package cli

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/parley-voice/parley/config"
	"github.com/parley-voice/parley/internal/callfmt"
	"github.com/parley-voice/parley/signaling"
)

// msgCommand is `parley msg USER TEXT`: send a text message.
func (e *env) msgCommand() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "msg USER [TEXT...]",
		Short: "Send a text message; it waits on the server until they connect",
		Long: `Send USER a text message: the words after USER, or else standard input
(one text of at most 4096 bytes; a last newline is left out). The server keeps
it (30 days by default) and gives it to every device of theirs once, whether
they are online now or connect later: ` + "`parley msgs --follow`" + ` or the UI.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			text := strings.Join(args[1:], " ")
			if len(args) == 1 {
				b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), signaling.MaxTextBytes+2))
				if err != nil {
					return fail(fmt.Errorf("read the text from standard input: %w", err))
				}
				text = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
			}
			api, _, err := e.userAPI()
			if err != nil {
				return fail(err)
			}
			t, err := api.SendText(cmd.Context(), args[0], text)
			if err != nil {
				return fail(err)
			}
			if asJSON {
				return callfmt.JSON(e.stdout, t)
			}
			say(e.stdout, "sent to %s", signaling.Label(t.To, t.ToName))
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, `print the text as kept, as JSON: {"seq", "from", "from_name", "to", `+
		`"to_name", "text", "sent"}`)
	return c
}

// msgsCommand is `parley msgs [USER]`: your text messages.
func (e *env) msgsCommand() *cobra.Command {
	var q signaling.TextsQuery
	var asJSON, follow, keep bool
	c := &cobra.Command{
		Use:   "msgs [USER]",
		Short: "List your text messages, or follow them as they come",
		Long: `List your text messages, oldest first (the last 50, or --limit), with USER
only when given, and how many are unread from whom. Listing them marks those
from USER (or everyone) read, on every device of yours (not with
--keep-unread).

--follow prints the texts this device has not had yet, each once, then every
text as it comes, until interrupted; with USER, the conversation with USER
as it goes on instead (this device's texts from others wait for a --follow
without USER, or the UI). Texts are shown with control characters and escape
sequences made visible (\x1b, \n): they cannot act on the terminal.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				q.With = args[0]
				if err := signaling.CheckUserID(q.With); err != nil {
					return fail(err)
				}
			}
			api, cfg, err := e.userAPI()
			if err != nil {
				return fail(err)
			}
			if follow {
				return e.followTexts(cmd.Context(), api, cfg, q.With, asJSON)
			}
			l, err := api.Texts(cmd.Context(), q)
			if err != nil {
				return fail(err)
			}
			if asJSON {
				err = callfmt.JSON(e.stdout, l)
			} else {
				err = e.printTexts(l)
			}
			if err != nil {
				return fail(err)
			}
			if !keep {
				return e.markRead(cmd.Context(), api, l)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&follow, "follow", false, "print the texts new to this device, then each as it comes")
	c.Flags().IntVar(&q.Limit, "limit", 0, "at most `N` texts, 1 to 1000 (default 50)")
	c.Flags().Uint64Var(&q.After, "after", 0, "only texts after `SEQ` (the seq of the last listed): the next page")
	c.Flags().BoolVar(&keep, "keep-unread", false, "leave the texts listed unread")
	c.Flags().BoolVar(&asJSON, "json", false, `print the list as one JSON object: {"texts":[{"seq", "from", `+
		`"from_name", "to", "to_name", "text", "sent"}…], "unread":{USER:N}}; with --follow, one text a line`)
	return c
}

// textLine is how a text is shown: when, who to whom, and the text, made
// harmless by say.
func textLine(t signaling.Text) string {
	return t.Sent.Local().Format("2006-01-02 15:04:05") + " " + signaling.Label(t.From, t.FromName) + " → " +
		signaling.Label(t.To, t.ToName) + ": " + t.Text
}

// printTexts prints texts one a line, and who sent unread ones.
func (e *env) printTexts(l signaling.Texts) error {
	if len(l.Texts) == 0 {
		fmt.Fprintln(e.stdout, "No texts.")
	}
	for _, t := range l.Texts {
		say(e.stdout, "%s", textLine(t))
	}
	if line := unreadLine(l.Unread); line != "" {
		say(e.stdout, "%s", line)
	}
	return nil
}

// unreadLine is "3 unread: alice (2), bob", senders in name order; "" when
// none.
func unreadLine(unread map[string]int) string {
	total := 0
	var who []string
	for _, u := range sortedKeys(unread) {
		n := unread[u]
		total += n
		if n > 1 {
			who = append(who, fmt.Sprintf("%s (%d)", u, n))
		} else {
			who = append(who, u)
		}
	}
	if total == 0 {
		return ""
	}
	return fmt.Sprintf("%d unread: %s", total, strings.Join(who, ", "))
}

// markRead marks read, per sender, the texts to the user that l lists.
func (e *env) markRead(ctx context.Context, api *signaling.API, l signaling.Texts) error {
	last := map[string]uint64{}
	for _, t := range l.Texts {
		if l.Unread[t.From] > 0 {
			last[t.From] = t.Seq
		}
	}
	for _, from := range sortedKeys(last) {
		if _, err := api.ReadTexts(ctx, from, last[from]); err != nil {
			return fail(fmt.Errorf("the texts were listed but could not be marked read: %w", err))
		}
	}
	return nil
}

// followTexts prints the texts this device has not had, then each as it
// comes, until ctx ends; with, the conversation with that user instead.
// The server tells each connection of the user of every text to or from
// them; a text to the user is then taken through the device's delivery
// mark, so that it is printed once, in order, even across reconnects.
func (e *env) followTexts(ctx context.Context, api *signaling.API, cfg config.Config, with string,
	asJSON bool) error {
	show := func(t signaling.Text) error {
		if asJSON {
			return callfmt.JSON(e.stdout, t)
		}
		say(e.stdout, "%s", textLine(t))
		return nil
	}
	for tries := 0; ; tries++ {
		tok, err := api.Token(ctx)
		if err != nil {
			return fail(err)
		}
		sig, err := signaling.DialAny(ctx, cfg.ServerList(), tok,
			signaling.DialOptions{HTTPClient: e.http, KeepAlive: 30 * time.Second})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if tries == 0 {
				return fail(err)
			}
		} else {
			err = e.followOn(ctx, api, sig, with, show)
			sig.Close()
			if ctx.Err() != nil {
				return nil
			}
			if e := signaling.AsError(err); err != nil && e.Code != signaling.UnknownError &&
				e.Code != signaling.NoConnectedSession {
				return fail(err) // refused: trying again will not help
			}
		}
		select { // connect again: the server went away, or the token ran out
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

// followOn follows the texts on one connection, until it ends.
func (e *env) followOn(ctx context.Context, api *signaling.API, sig *signaling.Client, with string,
	show func(signaling.Text) error) error {
	deliver := func() error {
		if with != "" {
			return nil
		}
		for {
			l, err := api.NewTexts(ctx)
			if err != nil {
				return err
			}
			for _, t := range l.Texts {
				if err := show(t); err != nil {
					return err
				}
			}
			if len(l.Texts) == 0 {
				return nil
			}
			// Printed is had: an interrupt that comes now must not undo it.
			mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_, err = api.Delivered(mctx, l.Texts[len(l.Texts)-1].Seq)
			cancel()
			if err != nil {
				return err
			}
			if len(l.Texts) < signaling.MaxTextsLimit {
				return nil
			}
		}
	}
	if err := deliver(); err != nil { // after the connection: nothing falls between
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case m, ok := <-sig.Messages():
			if !ok {
				return sig.Err()
			}
			if m.Type != signaling.TypeText || m.Text == nil {
				continue
			}
			t := *m.Text
			var err error
			switch {
			case with != "" && (t.From == with || t.To == with):
				err = show(t)
			case with == "" && t.To == sig.User:
				err = deliver()
			case with == "" && t.From == sig.User: // sent from a device of yours
				err = show(t)
			}
			if err != nil {
				return err
			}
		}
	}
}

// sortedKeys is m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
