package bench

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The plot is an SVG the harness writes itself: two panels side by side,
// a box plot of each set-up's latency and their cumulative distributions.
// A plotting library would bring a dozen modules (fonts, PDF, LaTeX, image
// codecs) into the module for one figure.

// Sizes, in SVG user units (pixels).
const (
	plotW, plotH = 1134, 454
	panelTop     = 40  // plot areas start below the titles
	panelBottom  = 384 // and end above the axis labels
	boxWidth     = 24
	fontSize     = 13
	smallFont    = 10
	labelFont    = 9 // the set-ups' names under the boxes
)

// panel is one plot area and the ranges it shows.
type panel struct {
	x0, x1, y0, y1 float64 // the area, in pixels (y0 at the top)
	xmin, xmax     float64 // the data ranges shown
	ymin, ymax     float64
}

// px maps data x to pixels.
func (p panel) px(x float64) float64 { return p.x0 + (x-p.xmin)/(p.xmax-p.xmin)*(p.x1-p.x0) }

// py maps data y to pixels (up is more).
func (p panel) py(y float64) float64 { return p.y1 - (y-p.ymin)/(p.ymax-p.ymin)*(p.y1-p.y0) }

// svg writes SVG elements; the first write error sticks and is returned by
// flush.
type svg struct {
	w   *bufio.Writer
	err error
}

func (s *svg) f(format string, args ...any) {
	if s.err == nil {
		_, s.err = fmt.Fprintf(s.w, format, args...)
	}
}

func (s *svg) flush() error {
	if s.err != nil {
		return s.err
	}
	return s.w.Flush()
}

// text writes a text element; anchor is start, middle or end.
func (s *svg) text(x, y float64, size int, anchor, attrs, body string) {
	s.f(`<text x="%.1f" y="%.1f" font-size="%d" text-anchor="%s"%s>%s</text>`+"\n", x, y, size, anchor, attrs,
		esc(body))
}

func esc(t string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(t)) // a strings.Builder does not fail
	return b.String()
}

// WritePlot draws the latency distributions as an SVG: a box plot per
// set-up (box from the first to the third quartile, a line at the median,
// whiskers to the farthest chirps within 1.5 box lengths, circles beyond),
// and their cumulative distributions, parley beside baresip.
func (r *Results) WritePlot(path string) error {
	var cs []ContenderResult
	for _, c := range append(slices.Clone(r.Latency), r.Floors...) {
		if c.Latency.N > 0 {
			cs = append(cs, c)
		}
	}
	if len(cs) == 0 {
		return fmt.Errorf("bench: no latency to plot")
	}
	return writeFile(path, func(w io.Writer) error {
		s := &svg{w: bufio.NewWriter(w)}
		s.f(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" `+
			`font-family="Liberation Serif, Times New Roman, serif">`+"\n", plotW, plotH, plotW, plotH)
		s.f(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
		ymax := axisEnd(cs)
		drawBoxes(s, cs, panel{x0: 70, x1: 545, y0: panelTop, y1: panelBottom, xmin: -0.5, xmax: float64(len(cs)) - 0.5,
			ymax: ymax})
		xmax := 0.0
		for _, c := range cs {
			xmax = max(xmax, ms64(slices.Max(c.Latency.Values)))
		}
		drawCDF(s, cs, panel{x0: 650, x1: 1120, y0: panelTop, y1: panelBottom,
			xmax: min(ymax, math.Ceil(xmax/50)*50), ymax: 1})
		s.f("</svg>\n")
		return s.flush()
	})
}

// axisEnd is where the latency axes end: a little past the highest p99 of
// the clients (not the device floors), so that a few chirps of a call the
// machine's load held up do not squash the rest.
func axisEnd(cs []ContenderResult) float64 {
	top, all := 0.0, 0.0
	for _, c := range cs {
		p99 := ms64(c.Latency.P99)
		all = max(all, p99)
		if c.Contender.Client != "devloop" {
			top = max(top, p99)
		}
	}
	if top == 0 {
		top = all
	}
	return max(50, math.Ceil(top*1.15/50)*50)
}

func ms64(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// drawBoxes draws the left panel.
func drawBoxes(s *svg, cs []ContenderResult, p panel) {
	s.text((p.x0+p.x1)/2, 24, fontSize+2, "middle", "",
		"Mouth-to-ear latency per chirp (axes end past the clients' highest p99)")
	s.text(p.x0-45, (p.y0+p.y1)/2, fontSize+2, "middle",
		fmt.Sprintf(` transform="rotate(-90 %.1f %.1f)"`, p.x0-45, (p.y0+p.y1)/2), "ms")
	for _, v := range ticks(p.ymax) {
		y := p.py(v)
		s.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ccc" stroke-width="0.5"/>`+"\n", p.x0, y, p.x1, y)
		s.text(p.x0-8, y+4, fontSize, "end", "", fmt.Sprintf("%g", v))
	}
	axes(s, p)
	s.f(`<clipPath id="boxes"><rect x="%.1f" y="%.1f" width="%.1f" height="%.1f"/></clipPath>`+"\n",
		p.x0, p.y0, p.x1-p.x0, p.y1-p.y0)
	s.f(`<g clip-path="url(#boxes)">` + "\n")
	for i, c := range cs {
		b := newBox(c.Latency.Values)
		x := p.px(float64(i))
		l, r := x-boxWidth/2, x+boxWidth/2
		s.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black" stroke-dasharray="3 2"/>`+"\n",
			x, p.py(b.lo), x, p.py(b.q1))
		s.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black" stroke-dasharray="3 2"/>`+"\n",
			x, p.py(b.q3), x, p.py(b.hi))
		for _, w := range []float64{b.lo, b.hi} {
			s.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", l, p.py(w), r, p.py(w))
		}
		s.f(`<rect class="box" x="%.1f" y="%.1f" width="%d" height="%.1f" fill="%s" stroke="black"/>`+"\n",
			l, p.py(b.q3), boxWidth, p.py(b.q1)-p.py(b.q3), hex(colorOf(c.Contender, i)))
		s.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black" stroke-width="2"/>`+"\n",
			l, p.py(b.median), r, p.py(b.median))
		for _, o := range b.outliers {
			s.f(`<circle cx="%.1f" cy="%.1f" r="3" fill="none" stroke="black"/>`+"\n", x, p.py(o))
		}
	}
	s.f("</g>\n")
	for i, c := range cs {
		x := p.px(float64(i))
		s.f(`<text x="%.1f" y="%.1f" font-size="%d" text-anchor="middle">`, x, p.y1+16, labelFont)
		for j, line := range wrap(c.Contender.Name, int((p.x1-p.x0)/float64(len(cs))/(0.6*labelFont))) {
			s.f(`<tspan x="%.1f" dy="%d">%s</tspan>`, x, min(j, 1)*(labelFont+2), esc(line))
		}
		s.f("</text>\n")
	}
}

// drawCDF draws the right panel, with its legend.
func drawCDF(s *svg, cs []ContenderResult, p panel) {
	s.text((p.x0+p.x1)/2, 24, fontSize+2, "middle", "", "Cumulative distribution")
	s.text((p.x0+p.x1)/2, p.y1+44, fontSize+2, "middle", "", "mouth-to-ear latency, ms")
	s.text(p.x0-45, (p.y0+p.y1)/2, fontSize+2, "middle",
		fmt.Sprintf(` transform="rotate(-90 %.1f %.1f)"`, p.x0-45, (p.y0+p.y1)/2), "share of chirps")
	for _, v := range ticks(p.xmax) {
		x := p.px(v)
		s.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ccc" stroke-width="0.5"/>`+"\n", x, p.y0, x, p.y1)
		s.text(x, p.y1+18, fontSize, "middle", "", fmt.Sprintf("%g", v))
	}
	for _, v := range []float64{0, 0.25, 0.5, 0.75, 1} {
		y := p.py(v)
		s.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ccc" stroke-width="0.5"/>`+"\n", p.x0, y, p.x1, y)
		s.text(p.x0-8, y+4, fontSize, "end", "", fmt.Sprintf("%g", v))
	}
	axes(s, p)
	s.f(`<clipPath id="cdf"><rect x="%.1f" y="%.1f" width="%.1f" height="%.1f"/></clipPath>`+"\n",
		p.x0, p.y0-2, p.x1-p.x0, p.y1-p.y0+4)
	s.f(`<g clip-path="url(#cdf)" fill="none" stroke-width="1.5">` + "\n")
	for i, c := range cs {
		v := slices.Clone(c.Latency.Values)
		slices.Sort(v)
		s.f(`<polyline class="cdf" stroke="%s"%s points="`, hex(colorOf(c.Contender, i)), dashes(c.Contender))
		for j, d := range v {
			x := p.px(ms64(d))
			s.f("%.1f,%.1f %.1f,%.1f ", x, p.py(float64(j)/float64(len(v))), x, p.py(float64(j+1)/float64(len(v))))
		}
		s.f("\"/>\n")
	}
	s.f("</g>\n")
	// The legend, bottom right, one line a set-up.
	const line = smallFont + 3
	top := p.y1 - 8 - float64(len(cs))*line
	s.f(`<rect x="%.1f" y="%.1f" width="%d" height="%.1f" fill="white" fill-opacity="0.8"/>`+"\n",
		p.x1-190, top-2, 186, float64(len(cs))*line+4)
	for i, c := range cs {
		y := top + float64(i+1)*line - 3
		s.text(p.x1-40, y, smallFont, "end", ` class="legend"`, c.Contender.Name)
		s.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="1.5"%s/>`+"\n",
			p.x1-35, y-3, p.x1-8, y-3, hex(colorOf(c.Contender, i)), dashes(c.Contender))
	}
}

// wrap breaks text into lines of at most width characters at spaces (a
// longer word has a line of its own).
func wrap(text string, width int) []string {
	var lines []string
	for _, w := range strings.Fields(text) {
		if n := len(lines); n > 0 && len(lines[n-1])+1+len(w) <= width {
			lines[n-1] += " " + w
			continue
		}
		lines = append(lines, w)
	}
	return lines
}

// dashes dashes the lines of the device floors.
func dashes(c Contender) string {
	if c.Client == "devloop" {
		return ` stroke-dasharray="3 3"`
	}
	return ""
}

// axes draws the left and bottom axes of p.
func axes(s *svg, p panel) {
	s.f(`<polyline points="%.1f,%.1f %.1f,%.1f %.1f,%.1f" fill="none" stroke="black"/>`+"\n",
		p.x0, p.y0, p.x0, p.y1, p.x1, p.y1)
}

// ticks returns round values from 0 to end, at most eight steps of 1, 2
// or 5 times a power of ten.
func ticks(end float64) []float64 {
	exp := math.Floor(math.Log10(end / 5))
	m := 10.0
	for _, try := range []float64{1, 2, 5} {
		if end/(try*math.Pow(10, exp)) <= 8 {
			m = try
			break
		}
	}
	// k·m·10^exp, divided rather than multiplied by a power of ten below
	// one, so that 0.6 is 0.6 and not 0.6000000000000001.
	at := func(k int) float64 {
		if exp < 0 {
			return float64(k) * m / math.Pow(10, -exp)
		}
		return float64(k) * m * math.Pow(10, exp)
	}
	var out []float64
	for k := 0; at(k) <= end*(1+1e-9); k++ {
		out = append(out, at(k))
	}
	return out
}

// box is a box plot's figures, in milliseconds.
type box struct {
	q1, median, q3 float64
	lo, hi         float64   // the whiskers' ends: the farthest values within 1.5 box lengths
	outliers       []float64 // the values beyond them
}

func newBox(ds []time.Duration) box {
	b := box{q1: ms64(Percentile(ds, 25)), median: ms64(Percentile(ds, 50)), q3: ms64(Percentile(ds, 75))}
	reach := 1.5 * (b.q3 - b.q1)
	b.lo, b.hi = b.q1, b.q3
	for _, d := range ds {
		v := ms64(d)
		switch {
		case v < b.q1-reach || v > b.q3+reach:
			b.outliers = append(b.outliers, v)
		case v < b.lo:
			b.lo = v
		case v > b.hi:
			b.hi = v
		}
	}
	return b
}

// rgb is a colour of the plot.
type rgb struct{ r, g, b uint8 }

func hex(c rgb) string { return fmt.Sprintf("#%02x%02x%02x", c.r, c.g, c.b) }

// colorOf gives parley blues and greens and baresip reds and oranges.
func colorOf(c Contender, i int) rgb {
	palette := map[string]rgb{
		"parley":                {31, 119, 180},
		"parley --low-latency":  {44, 160, 44},
		"parley, no processing": {23, 190, 207},
		"parley, in a room":     {148, 103, 189},
		"baresip":               {214, 39, 40},
		"baresip jb 1-3":        {255, 127, 14},
		"baresip, no jb":        {227, 119, 194},
		"devices only, 20 ms":   {127, 127, 127},
		"devices only, 10 ms":   {188, 189, 34},
	}
	if col, ok := palette[c.Name]; ok {
		return col
	}
	others := []rgb{{148, 103, 189}, {140, 86, 75}, {0, 0, 0}}
	return others[i%len(others)]
}

// PlotName is the plot's file name beside the document.
func PlotName(doc string) string {
	return strings.TrimSuffix(filepath.Base(doc), filepath.Ext(doc)) + "-latency.svg"
}
