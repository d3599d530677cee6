package common

import (
	"math"
	"strings"

	"github.com/parley-voice/parley/ui/styles"
)

// Meter draws level (0..1) as a bar width cells wide, in the call's meter
// styles: the level meters of the call and room views.
func Meter(st *styles.Styles, level float64, width int) string {
	if math.IsNaN(level) {
		level = 0
	}
	level = max(0, min(1, level))
	on := int(math.Round(level * float64(width)))
	return st.Call.MeterOn.Render(strings.Repeat("█", on)) + st.Call.MeterOff.Render(strings.Repeat("░", width-on))
}
