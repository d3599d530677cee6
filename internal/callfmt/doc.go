// Package callfmt is the one place that turns what the commands show into
// lines: a phone's events as text for people or as --json lines (the JSON
// schema of the events is in json.go), and text that came from other
// people or from the server (names, reasons, messages) made harmless on a
// terminal: Say and Table for text, HarmlessJSON for JSON.
package callfmt
