package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/parley-voice/parley/config"
	"github.com/parley-voice/parley/internal/callfmt"
	"github.com/parley-voice/parley/signaling"
)

// The commands of people: login, logout, invite, contacts, presence, link
// (admin is in admin.go, status in misc.go).

func (e *env) linkCommand() *cobra.Command {
	var name string
	var expires time.Duration
	c := &cobra.Command{
		Use:   "link",
		Short: "Make a guest link: someone without parley calls you from a browser",
		Long: `Make a guest link to a call with you, for someone who has no parley: they open
it in a browser, press "Join the call", and knock. Your terminal rings with
"Guest NAME is waiting": answer to let them in (a in the UI, or 'parley
answer'), reject to turn them away. The link is for one person (the first
browser that opens it), works until it expires or its call is over, and stands
alone on the last line of the output, for scripts.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			api, _, err := e.userAPI()
			if err != nil {
				return fail(err)
			}
			req := signaling.LinkRequest{Name: name}
			if expires > 0 {
				req.TTL = expires.String()
			}
			l, err := api.MakeLink(cmd.Context(), req)
			if err != nil {
				return fail(err)
			}
			say(e.stdout, "Guest link for %s, to a call with you (%s): one person, until %s.",
				l.GuestName, signaling.Label(l.Host, l.HostName), l.Expires.Local().Format("2006-01-02 15:04 MST"))
			link, note := linkOn(l.URL, api.Server, "/join/"+l.Code)
			if note != "" {
				say(e.stdout, "%s", note)
			}
			say(e.stdout, "Send it to them; they open it in a browser:")
			say(e.stdout, "%s", link)
			return nil
		},
	}
	c.Flags().StringVar(&name, "name", "", `the guest's name, shown when they knock (default "Guest")`)
	c.Flags().DurationVar(&expires, "expires", 0,
		"how long the link may be opened (default: the server's, 2h; at most 168h)")
	return c
}

// when formats a time for a table, "-" when zero.
func when(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04")
}

// describePerson is a person's state in words, with the last seen when
// offline: "online", "offline, last seen 5 minutes ago".
func describePerson(p signaling.Person) string {
	s := p.State.Words()
	if !p.Online && p.LastSeen != nil {
		s += ", last seen " + signaling.Ago(*p.LastSeen, time.Now())
	}
	return s
}

// parseInvite reads what `parley login` was given: a link
// (http(s)://HOST:PORT/invite/CODE, with the server in it) or a code (the
// server from --server, PARLEY_SERVER or the config).
func parseInvite(arg, defaultServer string) (server, code string, err error) {
	if !strings.Contains(arg, "://") {
		return defaultServer, strings.TrimSpace(arg), nil
	}
	u, err := url.Parse(arg)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", "", signaling.Errorf(signaling.InvalidParameter,
			"%q is not an invite link like https://HOST:PORT/invite/CODE", arg)
	}
	prefix, code, ok := strings.Cut(u.Path, "/invite/")
	if !ok || code == "" || strings.Contains(code, "/") {
		return "", "", signaling.Errorf(signaling.InvalidParameter,
			"%q is not an invite link: its path must end in /invite/CODE", arg)
	}
	return u.Scheme + "://" + u.Host + prefix, code, nil
}

// loopback reports whether the server URL names this machine.
func loopback(server string) bool {
	u, err := url.Parse(server)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (e *env) loginCommand() *cobra.Command {
	var device string
	var insecure bool
	c := &cobra.Command{
		Use:   "login INVITE",
		Short: "Sign in with an invite (its link or code) and remember this device",
		Long: `Sign in with the invite your admin made with 'parley invite': the link
(https://HOST:PORT/invite/CODE) or the code (then name the server with
--server). This device gets a credential of its own, kept in the config file
(mode 0600); parley trades it for short-lived tokens and renews them by itself.
'parley logout' forgets it.

A plain-HTTP server that is not on this machine is refused (the credential would
cross the network in clear) unless --insecure is given. For a server whose
certificate a private CA signed, pass --ca FILE: it is remembered too.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := e.config()
			if err != nil {
				return fail(err)
			}
			server, code, err := parseInvite(args[0], cfg.Server)
			if err != nil {
				return fail(err)
			}
			if strings.HasPrefix(server, "http://") && !loopback(server) && !insecure {
				return fail(signaling.Errorf(signaling.InvalidParameter,
					"refusing to sign in to %s over plain HTTP: your credential would cross the network unencrypted; "+
						"use the server's https:// address (parley serve --tls-cert), or pass --insecure on a "+
						"network you trust", server))
			}
			if device == "" {
				device, _ = os.Hostname()
			}
			api := &signaling.API{Server: server, HTTP: e.http}
			l, err := api.Login(cmd.Context(), code, device)
			if err != nil {
				return fail(err)
			}
			ca := cfg.CA
			if e.ca != "" {
				if ca, err = filepath.Abs(e.ca); err != nil {
					return fail(err)
				}
			}
			err = config.Update(config.Path(e.getenv), func(c *config.Config) {
				// The other nodes of the service (--server, PARLEY_SERVER,
				// the config) stay when the invite's server is among them.
				if slices.Contains(cfg.ServerList(), server) {
					c.SetServers(append([]string{server}, cfg.ServerList()...))
				} else {
					c.Server, c.Servers = server, nil
				}
				c.Credential, c.User, c.Name, c.Device, c.CA = l.Credential, l.User, l.Name, l.Device, ca
				c.Token = "" // the device signs in from now on
			})
			if err != nil {
				return fail(err)
			}
			say(e.stdout, "Signed in as %s on %s (team %s, %s). This device is %s (%s).",
				signaling.Label(l.User, l.Name), server, l.Team, l.Role, l.Device, device)
			return nil
		},
	}
	c.Flags().StringVar(&device, "device", "", "a name for this device, shown to admins (default: the host name)")
	c.Flags().BoolVar(&insecure, "insecure", false, "allow a plain-HTTP server that is not on this machine")
	return c
}

func (e *env) logoutCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "Sign this device out: its credential is revoked and forgotten",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := config.Path(e.getenv)
			saved, err := config.Read(path)
			if err != nil {
				return fail(err)
			}
			if saved.Credential == "" {
				return fail(signaling.Errorf(signaling.InvalidParameter,
					"this device is not signed in (no credential in %s)", path))
			}
			cfg, err := e.config()
			if err != nil {
				return fail(err)
			}
			api := &signaling.API{Server: saved.Server, HTTP: e.http}
			revokeErr := api.Logout(cmd.Context(), saved.Credential)
			var se *signaling.Error
			if revokeErr != nil && !(errors.As(revokeErr, &se) && se.Code == signaling.InvalidToken) {
				// Unreachable: forget it here all the same, and say so.
				say(e.stderr, "parley: could not reach %s to revoke this device (%v): ask an admin to run `parley "+
					"admin revoke %s`",
					cfg.Server, revokeErr, saved.Device)
			}
			err = config.Update(path, func(c *config.Config) {
				c.Credential, c.User, c.Name, c.Device = "", "", "", ""
			})
			if err != nil {
				return fail(err)
			}
			say(e.stdout, "Signed out: device %s of %s is revoked and forgotten.",
				saved.Device, signaling.Label(saved.User, saved.Name))
			return nil
		},
	}
}

func (e *env) inviteCommand() *cobra.Command {
	var apiKey, name, role string
	var ttl time.Duration
	c := &cobra.Command{
		Use:   "invite USER",
		Short: "Make a single-use invite for USER (needs the team's API key)",
		Long: `Make a single-use invite for USER, with the API key of the team (the key 'parley
serve' printed, or one from 'parley admin team add'). It prints a short code and
a link; the link stands alone on the last line, for scripts. The person signs in
with 'parley login LINK' (or 'parley login CODE --server URL'). Inviting someone
who exists already adds a device for them.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, _, err := e.adminAPI(apiKey)
			if err != nil {
				return fail(err)
			}
			req := signaling.InviteRequest{User: args[0], Name: name, Role: role}
			if ttl > 0 {
				req.TTL = ttl.String()
			}
			inv, err := api.Invite(cmd.Context(), req)
			if err != nil {
				return fail(err)
			}
			say(e.stdout, "Invite for %s, %s of team %s: single use, valid until %s.",
				signaling.Label(inv.User, inv.Name), inv.Role, inv.Team,
				inv.Expires.Local().Format("2006-01-02 15:04 MST"))
			link, note := linkOn(inv.URL, api.Server, "/invite/"+inv.Code)
			base := strings.TrimSuffix(link, "/invite/"+inv.Code)
			say(e.stdout, "Code: %s   (parley login %s --server %s)", inv.Code, inv.Code, base)
			if note != "" {
				say(e.stdout, "%s", note)
			}
			say(e.stdout, "Link, to sign in with 'parley login LINK':")
			say(e.stdout, "%s", link)
			return nil
		},
	}
	c.Flags().StringVar(&apiKey, "api-key", "", "the team's API key (default $PARLEY_API_KEY)")
	c.Flags().StringVar(&name, "name", "", "the person's display name")
	c.Flags().StringVar(&role, "role", "member",
		"member, guest (reaches only people who have them as a contact) or admin")
	c.Flags().DurationVar(&ttl, "ttl", 0, "how long the invite may be used (default: the server's, 7 days)")
	return c
}

// linkOn returns the link the server made, or, when it made none (it has
// no --public-url and listens on every address, so it does not know its
// name), the link to path on server, the address this command reached it
// at, and a note that says so.
func linkOn(link, server, path string) (_, note string) {
	if link != "" {
		return link, ""
	}
	return strings.TrimSuffix(server, "/") + path, fmt.Sprintf("(The server has no --public-url and listens "+
		"on every address: the link is on %s, where this command reached it.)", server)
}

func (e *env) contactsCommand() *cobra.Command {
	var asJSON bool
	contacts := &cobra.Command{
		Use:   "contacts",
		Short: "List, add and remove your contacts (kept on the server)",
		Long: `Your contacts are kept on the server, so they follow you to every device; the UI
shows them with those of the config file. Everyone who has you as a contact sees
your presence change at once.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return e.listContacts(cmd.Context(), asJSON) },
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List your contacts with their state",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return e.listContacts(cmd.Context(), asJSON) },
	}
	for _, c := range []*cobra.Command{contacts, list} {
		c.Flags().BoolVar(&asJSON, "json", false, `print the contacts as one JSON object: {"contacts":[{"user", `+
			`"name", "role", "state", "online", "last_seen"}…]}`)
	}
	add := &cobra.Command{
		Use:   "add USER",
		Short: "Add USER to your contacts",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, _, err := e.userAPI()
			if err != nil {
				return fail(err)
			}
			p, err := api.AddContact(cmd.Context(), args[0])
			if err != nil {
				return fail(err)
			}
			say(e.stdout, "Added %s: %s.", signaling.Label(p.User, p.Name), describePerson(p))
			return nil
		},
	}
	remove := &cobra.Command{
		Use:   "remove USER",
		Short: "Remove USER from your contacts",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, _, err := e.userAPI()
			if err != nil {
				return fail(err)
			}
			if err := api.RemoveContact(cmd.Context(), args[0]); err != nil {
				return fail(err)
			}
			fmt.Fprintf(e.stdout, "Removed %s.\n", args[0])
			return nil
		},
	}
	contacts.AddCommand(list, add, remove)
	return contacts
}

func (e *env) listContacts(ctx context.Context, asJSON bool) error {
	api, _, err := e.userAPI()
	if err != nil {
		return fail(err)
	}
	people, err := api.Contacts(ctx)
	if err != nil {
		return fail(err)
	}
	if asJSON {
		return callfmt.List(e.stdout, "contacts", people)
	}
	if len(people) == 0 {
		fmt.Fprintln(e.stdout, "No contacts yet: add one with `parley contacts add USER`.")
		return nil
	}
	var rows [][]string
	for _, p := range people {
		name := p.Name
		if name == "" {
			name = "-"
		}
		rows = append(rows, []string{p.User, name, describePerson(p)})
	}
	return e.table("USER\tNAME\tSTATE", rows)
}

func (e *env) presenceCommand() *cobra.Command {
	var asJSON bool
	var waiting string
	c := &cobra.Command{
		Use:   "presence online|away|dnd",
		Short: "Set your presence: away, dnd (calls refused), or online again",
		Long: `Set your presence by hand, on every device: away, or dnd (do not disturb: calls
to you are refused at once, and callers are told why). It stays until you set
online. The UI also shows you away by itself after ten minutes without a key
press.

--call-waiting off refuses a call that comes while you are in another as busy
(80202), on every device, instead of ringing it as a waiting call; on (the
default) brings it back. It may come alone: parley presence --call-waiting off.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && cmd.Flags().Changed("call-waiting") {
				return nil
			}
			return cobra.ExactArgs(1)(cmd, args)
		},
		ValidArgs: []string{"online", "away", "dnd"},
		RunE: func(cmd *cobra.Command, args []string) error {
			var state signaling.State
			if len(args) == 1 {
				if state = signaling.State(args[0]); !state.Settable() {
					return &exitCode{code: exitUsage, err: fmt.Errorf("presence %q: use online, away or dnd", args[0])}
				}
			}
			on, setWaiting := map[string]bool{"on": true, "off": false}[waiting]
			if cmd.Flags().Changed("call-waiting") && !setWaiting {
				return &exitCode{code: exitUsage, err: fmt.Errorf("--call-waiting %q: use on or off", waiting)}
			}
			api, _, err := e.userAPI()
			if err != nil {
				return fail(err)
			}
			var p signaling.Person
			if setWaiting {
				if p, err = api.SetCallWaiting(cmd.Context(), on); err != nil {
					return fail(err)
				}
			}
			if state != "" {
				if p, err = api.SetPresence(cmd.Context(), state); err != nil {
					return fail(err)
				}
			}
			if asJSON {
				return callfmt.JSON(e.stdout, p)
			}
			switch {
			case setWaiting && on:
				fmt.Fprintln(e.stdout, "Call waiting is on: a call while you are in another rings as a waiting call.")
			case setWaiting:
				fmt.Fprintln(e.stdout, "Call waiting is off: a call while you are in another is refused as busy.")
			}
			switch state {
			case "":
			case signaling.StateDND:
				fmt.Fprintln(e.stdout, "You are in do not disturb: calls to you are refused until `parley "+
					"presence online`.")
			case signaling.StateAway:
				fmt.Fprintln(e.stdout, "You are away until `parley presence online`.")
			default:
				say(e.stdout, "You are %s.", describePerson(p))
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, `print your presence as one JSON object: {"user", "name", "role", `+
		`"state", "online"}`)
	c.Flags().StringVar(&waiting, "call-waiting", "", "on or off: ring a call that comes while you are in another "+
		"as a waiting call, or refuse it as busy (every device)")
	return c
}
