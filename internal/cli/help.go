package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// How `parley --help` and each command's help read: the commands in
// groups, the flags wrapped, and under each command the exit statuses it
// can end with.

// The groups of `parley --help`, in the order shown.
const (
	groupCalls       = "calls"
	groupPeople      = "people"
	groupAdmin       = "admin"
	groupServer      = "server"
	groupDiagnostics = "diagnostics"
)

func addGroups(root *cobra.Command) {
	root.AddGroup(
		&cobra.Group{ID: groupCalls, Title: "Calls:"},
		&cobra.Group{ID: groupPeople, Title: "People:"},
		&cobra.Group{ID: groupAdmin, Title: "Administration (with an API key or the admin role):"},
		&cobra.Group{ID: groupServer, Title: "Running a server or a service:"},
		&cobra.Group{ID: groupDiagnostics, Title: "Diagnostics:"},
	)
}

// inGroup puts c in group and returns it.
func inGroup(group string, c *cobra.Command) *cobra.Command {
	c.GroupID = group
	return c
}

// helpWidth is the width flag help is wrapped to. It is fixed rather than
// the terminal's: 80 columns fit every terminal, help read through a pipe,
// a pager or a file has no terminal to ask, and the same help everywhere
// is what the golden test (testdata/*.golden) holds the commands to.
const helpWidth = 80

// usageTemplate is cobra's, with the flags wrapped to helpWidth and the
// command's exit statuses (its "exit" annotation) at the end.
func usageTemplate() string {
	return strings.NewReplacer(
		"{{.LocalFlags.FlagUsages", fmt.Sprintf("{{.LocalFlags.FlagUsagesWrapped %d", helpWidth),
		"{{.InheritedFlags.FlagUsages", fmt.Sprintf("{{.InheritedFlags.FlagUsagesWrapped %d", helpWidth),
	).Replace(`Usage:{{if .Runnable}}
  {{.UseLine}}{{end}}{{if .HasAvailableSubCommands}}
  {{.CommandPath}} [command]{{end}}{{if gt (len .Aliases) 0}}

Aliases:
  {{.NameAndAliases}}{{end}}{{if .HasExample}}

Examples:
{{.Example}}{{end}}{{if .HasAvailableSubCommands}}{{$cmds := .Commands}}{{if eq (len .Groups) 0}}

Available Commands:{{range $cmds}}{{if (or .IsAvailableCommand (eq .Name "help"))}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}{{else}}{{range $group := .Groups}}

{{.Title}}{{range $cmds}}{{if (and (eq .GroupID $group.ID) (or .IsAvailableCommand (eq .Name "help")))}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}{{end}}{{if not .AllChildCommandsHaveGroup}}

Additional Commands:{{range $cmds}}{{if (and (eq .GroupID "") (or .IsAvailableCommand (eq .Name "help")))}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}{{end}}{{end}}{{end}}{{if .HasAvailableLocalFlags}}

Flags:
{{.LocalFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}{{if .HasAvailableInheritedFlags}}

Global Flags:
{{.InheritedFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}{{if .HasHelpSubCommands}}

Additional help topics:{{range .Commands}}{{if .IsAdditionalHelpTopicCommand}}
  {{rpad .CommandPath .CommandPathPadding}} {{.Short}}{{end}}{{end}}{{end}}{{if .HasAvailableSubCommands}}

Use "{{.CommandPath}} [command] --help" for more about a command.{{end}}{{with index .Annotations "exit"}}

Exit status:
{{.}}{{end}}
`)
}

// The rows of the exit-status tables. Each command's help lists the rows
// that apply to it (exitTable); the README has them all.
const (
	rowDone     = " 0  done"
	rowFailure  = " 1  failed; the message says why"
	rowUsage    = " 2  bad flags or arguments"
	rowCoded    = " 6  refused with an error code from the error table (80101 … 80999)"
	rowNoServer = " 7  the server could not be reached (the message names the address tried)"
	rowSetup    = " 8  not set up: not signed in, or the config file or --ca cannot be used"
	rowGaveUp   = "130 interrupted before it was done"
)

// exitTable is an exit-status table of rows.
func exitTable(rows ...string) string {
	return "  " + strings.Join(rows, "\n  ")
}

// clientExits is the table of the commands that talk to a server and have
// none of their own.
func clientExits() string {
	return exitTable(rowDone, rowFailure, rowUsage, rowCoded, rowNoServer, rowSetup)
}

// callExits is the table of call, answer and demo.
func callExits() string {
	return exitTable(
		" 0  the call completed",
		rowFailure,
		" 2  bad flags or arguments, a bad --in or --out spec included",
		" 3  the call was rejected",
		" 4  the call was unanswered (no answer in time, or canceled; answer: another",
		"    device of yours answered it)",
		" 5  the call failed",
		rowCoded, rowNoServer, rowSetup,
		"130 interrupted before a call began")
}

// statusExits is the table of status.
func statusExits() string {
	return exitTable(
		" 0  USER is online: online, away, dnd or in_call",
		" 1  USER is offline",
		rowUsage,
		" 6  refused with an error code: 80102 (no such user), 80401 (your token), …",
		rowNoServer, rowSetup,
		"130 interrupted while waiting (--wait)")
}

// serveExits is the table of serve.
func serveExits() string {
	return exitTable(
		" 0  stopped by an interrupt or SIGTERM",
		" 1  could not start (a port that is taken: the message names the flag that",
		"    moves it), or stopped on a failure",
		rowUsage)
}

// echoExits is the table of echo, which runs until it is stopped.
func ctlExits() string {
	return exitTable(" 0  the running parley took the command", rowFailure, rowUsage,
		" 6  refused with an error code: 80402 when no parley of yours runs here, 80802",
		"    when the socket is another user's, the command's own otherwise")
}

func echoExits() string {
	return exitTable(" 0  stopped by an interrupt or SIGTERM", rowFailure, rowUsage, rowCoded, rowNoServer, rowSetup)
}

// doctorExits is the table of doctor.
func doctorExits() string {
	return exitTable(" 0  every check passed", " 1  a check failed (its line says what to do)", rowUsage)
}

// devicesExits is the table of devices.
func devicesExits() string {
	return exitTable(rowDone, rowFailure, rowUsage, " 6  80801: the sound system is not available")
}

// setExits sets the exit-status table a command's help ends with.
func setExits(c *cobra.Command, table string) *cobra.Command {
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations["exit"] = table
	return c
}

// defaultExits gives every runnable command under c that has no table of
// its own the table of client commands.
func defaultExits(c *cobra.Command) {
	if c.Runnable() && c.Annotations["exit"] == "" && c.Name() != "help" && c.Name() != "version" {
		setExits(c, clientExits())
	}
	for _, sub := range c.Commands() {
		defaultExits(sub)
	}
}

// versionCommand is `parley version`, which prints what --version prints.
func versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, the commit and the Go release of this parley",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bi, _ := debug.ReadBuildInfo()
			fmt.Fprint(cmd.OutOrStdout(), versionText(bi))
			return nil
		},
	}
}

// versionText is what `parley version` and `parley --version` print, from
// the build info: the module's version, the commit and its time (when the
// build recorded them), and the Go release and platform that built it.
//
//	parley v1.2.0
//	commit 36eea3f1c2d4e5f60718293a4b5c6d7e8f901234 (2026-12-03T10:00:00Z, with uncommitted changes)
//	go1.26.1 linux/amd64
func versionText(bi *debug.BuildInfo) string {
	if bi == nil {
		return fmt.Sprintf("parley (no build information)\n%s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	}
	version := bi.Main.Version
	if version == "" {
		version = "(devel)"
	}
	s := map[string]string{"GOOS": runtime.GOOS, "GOARCH": runtime.GOARCH}
	for _, kv := range bi.Settings {
		s[kv.Key] = kv.Value
	}
	var b strings.Builder
	fmt.Fprintf(&b, "parley %s", version)
	if strings.Contains(","+s["-tags"]+",", ",client,") {
		b.WriteString(", the client build (without the server)")
	}
	b.WriteString("\n")
	if rev := s["vcs.revision"]; rev != "" {
		var notes []string
		if t := s["vcs.time"]; t != "" {
			notes = append(notes, t)
		}
		if s["vcs.modified"] == "true" {
			notes = append(notes, "with uncommitted changes")
		}
		fmt.Fprintf(&b, "commit %s", rev)
		if len(notes) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(notes, ", "))
		}
		b.WriteString("\n")
	}
	goVersion := bi.GoVersion
	if goVersion == "" {
		goVersion = runtime.Version()
	}
	fmt.Fprintf(&b, "%s %s/%s\n", goVersion, s["GOOS"], s["GOARCH"])
	return b.String()
}
