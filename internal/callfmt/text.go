package callfmt

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/parley-voice/parley/signaling"
)

// Say writes one line made of format and args, made harmless with
// signaling.Printable: whatever the arguments hold (names, reasons, messages
// from other people or from the server), no escape sequence reaches the
// terminal, and the line stays one line. format holds no newline. Text
// output that shows what came from elsewhere goes through Say (or Table);
// --json output keeps that text as it came, escaped as JSON (HarmlessJSON).
func Say(w io.Writer, format string, args ...any) {
	fmt.Fprintln(w, signaling.Printable(fmt.Sprintf(format, args...)))
}

// Table writes rows under a header (cells separated by tabs), aligned. A
// tab or an escape in a cell breaks neither the columns nor the terminal.
func Table(w io.Writer, header string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		cells := make([]string, len(r))
		for i, c := range r {
			cells[i] = signaling.Printable(c)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}
