package common

import (
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
)

// Truncate shortens s to at most width cells, ending it with "…" when cut.
func Truncate(s string, width int) string {
	if width <= 0 {
		return ""
	}
	return ansi.Truncate(s, width, "…")
}

// PadRight truncates s to width cells and pads it with spaces to exactly
// width.
func PadRight(s string, width int) string {
	s = Truncate(s, width)
	if w := ansi.StringWidth(s); w < width {
		s += strings.Repeat(" ", width-w)
	}
	return s
}

// Scroll returns the first row to show of a list of total rows in a window
// of height rows, so that row selected is visible, moving the window from
// offset as little as possible.
func Scroll(selected, offset, height, total int) int {
	if height <= 0 || total <= height {
		return 0
	}
	if selected < offset {
		offset = selected
	}
	if selected >= offset+height {
		offset = selected - height + 1
	}
	return max(0, min(offset, total-height))
}

// FitLines cuts a block of text to at most height lines.
func FitLines(s string, height int) string {
	if height <= 0 {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(lines) > height {
		lines = lines[:height]
	}
	return strings.Join(lines, "\n")
}

// Box renders content in style s as a block exactly width cells wide and,
// when height > 0, exactly height lines high. The content area is what is
// left after the style's frame (margins, border, padding); content taller
// than that area is cut.
func Box(s lipgloss.Style, width, height int, content string) string {
	s = s.Width(max(0, width-s.GetHorizontalBorderSize()-s.GetHorizontalMargins()))
	if height > 0 {
		content = FitLines(content, height-s.GetVerticalFrameSize())
		s = s.Height(max(0, height-s.GetVerticalBorderSize()-s.GetVerticalMargins()))
	}
	return s.Render(content)
}
