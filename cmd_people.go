package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/parley-voice/parley/config"
	"github.com/parley-voice/parley/signaling"
)

// The commands of people, not tokens: login, logout, invite, admin,
// contacts, presence (status is in cmd_misc.go).

func (e *env) peopleCommands() []*cobra.Command {
	return []*cobra.Command{
		e.loginCommand(),
		e.logoutCommand(),
		e.inviteCommand(),
		e.adminCommand(),
		e.contactsCommand(),
		e.presenceCommand(),
		e.linkCommand(),
	}
}

func (e *env) linkCommand() *cobra.Command {
	var name string
	var expires time.Duration
	c := &cobra.Command{
		Use:   "link",
		Short: "Make a guest link: someone without parley calls you from a browser",
		Long: `Make a guest link to a call with you, for someone who has no parley: they open
it in a browser, press "Join the call", and knock. Your terminal rings with
"Guest NAME is waiting": answer to let them in (a in the UI, or 'parley answer'),
reject to turn them away. The link is for one person (the first browser that
opens it), works until it expires or its call is over, and stands alone on the
last line of the output, for scripts.`,
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
	c.Flags().DurationVar(&expires, "expires", 0, "how long the link may be opened (default: the server's, 2h; at most 168h)")
	return c
}

// jsonVerification is the --json form of a call's verification code.
type jsonVerification struct {
	Event string `json:"event"` // "verification"
	ID    string `json:"id"`
	Code  string `json:"code"`
}

// trustCA is an HTTP client that trusts the CA in the PEM file path besides
// the system's.
func trustCA(path string) (*http.Client, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--ca: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("--ca: %s holds no PEM certificate", path)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr}, nil
}

// deviceTokens trades the device credential for access tokens, and keeps
// the last one while it has more than half of its life left. Safe for
// concurrent use (the phone renews from its own goroutine).
type deviceTokens struct {
	apis []*signaling.API // one per node of the service, tried in turn
	cred string

	mu       sync.Mutex
	cur      int // the API that answered last
	tok      string
	iat, exp time.Time
}

// Token returns an access token with more than half its life left.
func (d *deviceTokens) Token(ctx context.Context) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.tok != "" && time.Now().Before(d.iat.Add(d.exp.Sub(d.iat)/2)) {
		return d.tok, nil
	}
	if len(d.apis) == 0 {
		return "", signaling.Errorf(signaling.InvalidParameter, "no server to sign in to: pass --server URL")
	}
	var at signaling.AccessToken
	var err error
	for range d.apis {
		at, err = d.apis[d.cur].AccessToken(ctx, d.cred)
		var se *signaling.Error
		if err == nil || errors.As(err, &se) || ctx.Err() != nil {
			break // an answer, or a refusal every node would give
		}
		d.cur = (d.cur + 1) % len(d.apis) // unreachable: the next node
	}
	if err != nil {
		return "", err
	}
	d.tok = at.Token
	d.iat, d.exp, _ = signaling.TokenTimes(at.Token)
	return d.tok, nil
}

// auth is how client commands sign in: a token given with --token or
// PARLEY_TOKEN; else the device signed in with `parley login` (source
// set); else a token saved with `parley token --save`.
func (e *env) auth(cfg config.Config) (token string, source func(context.Context) (string, error)) {
	if cfg.Credential != "" && e.token == "" && e.getenv("PARLEY_TOKEN") == "" {
		d := &deviceTokens{cred: cfg.Credential}
		for _, s := range cfg.ServerList() {
			d.apis = append(d.apis, &signaling.API{Server: s, HTTP: e.http})
		}
		return "", d.Token
	}
	return cfg.Token, nil
}

// userAPI is the HTTP API as the signed-in user.
func (e *env) userAPI() (*signaling.API, config.Config, error) {
	cfg, err := e.config()
	if err != nil {
		return nil, cfg, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, cfg, err
	}
	tok, src := e.auth(cfg)
	if src == nil {
		src = func(context.Context) (string, error) { return tok, nil }
	}
	return &signaling.API{Server: cfg.Server, HTTP: e.http, Token: src}, cfg, nil
}

// peopleAPI is the HTTP API as the user the phone signs in, for the UI.
func (e *env) peopleAPI(cfg config.Config, tok string, src func(context.Context) (string, error)) *signaling.API {
	if src == nil {
		src = func(context.Context) (string, error) { return tok, nil }
	}
	return &signaling.API{Server: cfg.Server, HTTP: e.http, Token: src}
}

// adminAPI is the HTTP API with the API key of --api-key or
// PARLEY_API_KEY, or else as the signed-in user (who needs the admin role).
func (e *env) adminAPI(apiKey string) (*signaling.API, config.Config, error) {
	if apiKey == "" {
		apiKey = e.getenv("PARLEY_API_KEY")
	}
	if apiKey == "" {
		api, cfg, err := e.userAPI()
		if err != nil {
			return nil, cfg, signaling.Errorf(signaling.InvalidParameter,
				"no API key: pass --api-key KEY or set PARLEY_API_KEY (the key 'parley serve' printed on its first start, or a team's)")
		}
		return api, cfg, nil
	}
	cfg, err := e.config()
	if err != nil {
		return nil, cfg, err
	}
	return &signaling.API{Server: cfg.Server, HTTP: e.http, APIKey: apiKey}, cfg, nil
}

// table writes rows under a header, aligned.
func (e *env) table(header string, rows [][]string) error {
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		cells := make([]string, len(r))
		for i, c := range r {
			cells[i] = signaling.Printable(c) // a tab or an escape in a name breaks neither the columns nor the terminal
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
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
		return "", "", signaling.Errorf(signaling.InvalidParameter, "%q is not an invite link like https://HOST:PORT/invite/CODE", arg)
	}
	prefix, code, ok := strings.Cut(u.Path, "/invite/")
	if !ok || code == "" || strings.Contains(code, "/") {
		return "", "", signaling.Errorf(signaling.InvalidParameter, "%q is not an invite link: its path must end in /invite/CODE", arg)
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
		Short: "Sign in with an invite (the link or the code) and remember this device",
		Long: `Sign in with the invite your admin made with 'parley invite': the link
(https://HOST:PORT/invite/CODE) or the code (then name the server with --server).
This device gets a credential of its own, kept in the config file (mode 0600); parley
trades it for short-lived tokens and renews them by itself. 'parley logout' forgets it.

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
						"use the server's https:// address (parley serve --tls-cert), or pass --insecure on a network you trust", server))
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
		Short: "Sign this device out: the server revokes its credential, the config forgets it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := config.Path(e.getenv)
			saved, err := config.Read(path)
			if err != nil {
				return fail(err)
			}
			if saved.Credential == "" {
				return fail(signaling.Errorf(signaling.InvalidParameter, "this device is not signed in (no credential in %s)", path))
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
				say(e.stderr, "parley: could not reach %s to revoke this device (%v): ask an admin to run `parley admin revoke %s`",
					cfg.Server, revokeErr, saved.Device)
			}
			err = config.Update(path, func(c *config.Config) {
				c.Credential, c.User, c.Name, c.Device = "", "", "", ""
			})
			if err != nil {
				return fail(err)
			}
			say(e.stdout, "Signed out: device %s of %s is revoked and forgotten.", saved.Device, signaling.Label(saved.User, saved.Name))
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
		Long: `Make a single-use invite for USER, with the API key of the team (the key
'parley serve' printed, or one from 'parley admin team add'). It prints a short code
and a link; the link stands alone on the last line, for scripts. The person signs in
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
				signaling.Label(inv.User, inv.Name), inv.Role, inv.Team, inv.Expires.Local().Format("2006-01-02 15:04 MST"))
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
	c.Flags().StringVar(&role, "role", "member", "member, guest (reaches only people who have them as a contact) or admin")
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

func (e *env) adminCommand() *cobra.Command {
	var apiKey string
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
			var rows [][]string
			for _, u := range list {
				name := u.Name
				if name == "" {
					name = "-"
				}
				rows = append(rows, []string{u.User, name, u.Role, u.State.Words(), when(u.LastSeen), fmt.Sprint(u.Devices)})
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
		Short: "Revoke a device, or every device and token of a user; they are disconnected at once",
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
				say(e.stdout, "Revoked device %s of %s: it was disconnected and cannot sign in again.", strings.Join(r.Devices, ", "), r.User)
				return nil
			}
			devs := "no device signed in"
			if len(r.Devices) > 0 {
				devs = fmt.Sprintf("%d device(s): %s", len(r.Devices), strings.Join(r.Devices, ", "))
			}
			say(e.stdout, "Revoked %s: %s, and every token issued until now; they were disconnected. A new invite lets them back.", r.User, devs)
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
			say(e.stdout, "Team %s created. Its API key, shown only now (use it with --api-key on token, invite and admin):", t.Team)
			say(e.stdout, "%s", t.APIKey)
			return nil
		},
	}
	team.AddCommand(teamAdd)
	admin.AddCommand(users, devices, revoke, team, e.webhookCommand(&apiKey))
	return admin
}

func (e *env) contactsCommand() *cobra.Command {
	contacts := &cobra.Command{
		Use:   "contacts",
		Short: "List, add and remove your contacts (kept on the server)",
		Long: `Your contacts are kept on the server, so they follow you to every device; the UI
shows them with those of the config file. Everyone who has you as a contact sees your
presence change at once.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return e.listContacts(cmd.Context()) },
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List your contacts with their state",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return e.listContacts(cmd.Context()) },
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

func (e *env) listContacts(ctx context.Context) error {
	api, _, err := e.userAPI()
	if err != nil {
		return fail(err)
	}
	people, err := api.Contacts(ctx)
	if err != nil {
		return fail(err)
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
	return &cobra.Command{
		Use:   "presence online|away|dnd",
		Short: "Set your presence: away, dnd (calls to you are refused), or online again",
		Long: `Set your presence by hand, on every device: away, or dnd (do not disturb: calls to
you are refused at once, and callers are told why). It stays until you set online.
The UI also shows you away by itself after ten minutes without a key press.`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"online", "away", "dnd"},
		RunE: func(cmd *cobra.Command, args []string) error {
			state := signaling.State(args[0])
			if !state.Settable() {
				return &exitCode{code: exitUsage, err: fmt.Errorf("presence %q: use online, away or dnd", args[0])}
			}
			api, _, err := e.userAPI()
			if err != nil {
				return fail(err)
			}
			p, err := api.SetPresence(cmd.Context(), state)
			if err != nil {
				return fail(err)
			}
			switch state {
			case signaling.StateDND:
				fmt.Fprintln(e.stdout, "You are in do not disturb: calls to you are refused until `parley presence online`.")
			case signaling.StateAway:
				fmt.Fprintln(e.stdout, "You are away until `parley presence online`.")
			default:
				say(e.stdout, "You are %s.", describePerson(p))
			}
			return nil
		},
	}
}
