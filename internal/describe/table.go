/*
Copyright 2026 The restore-hook-operator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package describe

import (
	"io"
	"strings"
	"unicode/utf8"
)

// colour is an ANSI foreground colour for one cell; colourNone prints the text as is.
type colour string

const (
	colourNone   colour = ""
	colourRed    colour = "31"
	colourGreen  colour = "32"
	colourYellow colour = "33"
	colourCyan   colour = "36"
)

// cell is one table cell: its text and the colour it gets on a terminal.
type cell struct {
	text   string
	colour colour
}

func plain(s string) cell { return cell{text: s} }

// table renders rows under a header, columns separated by two spaces and padded to the widest cell.
// It measures widths itself instead of using text/tabwriter, because tabwriter would count the
// invisible bytes of colour escapes and misalign coloured columns.
type table struct {
	header []string
	rows   [][]cell
}

func (t *table) add(cells ...cell) { t.rows = append(t.rows, cells) }

func (t *table) write(w io.Writer, indent string, color bool) error {
	widths := make([]int, len(t.header))
	for i, h := range t.header {
		widths[i] = utf8.RuneCountInString(h)
	}
	for _, r := range t.rows {
		for i, c := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(c.text))
		}
	}
	var b strings.Builder
	line := func(cells []cell) {
		b.WriteString(indent)
		for i, c := range cells {
			last := i == len(cells)-1
			text := c.text
			if !last {
				text += strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c.text)+2)
			}
			if color && c.colour != colourNone {
				// Colour the text only, not the padding, so a terminal's selection copies cleanly.
				b.WriteString("\x1b[" + string(c.colour) + "m" + c.text + "\x1b[0m")
				b.WriteString(text[len(c.text):])
			} else {
				b.WriteString(text)
			}
		}
		b.WriteString("\n")
	}
	head := make([]cell, len(t.header))
	for i, h := range t.header {
		head[i] = plain(h)
	}
	line(head)
	for _, r := range t.rows {
		line(r)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// truncateMiddle shortens s to at most n runes by replacing its middle with "…", keeping both the
// start (a namespace, a workload name) and the end (a pod's ordinal or hash suffix), which together
// tell long names apart better than a prefix alone.
func truncateMiddle(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	tail := (n - 1) / 2
	head := n - 1 - tail
	return string(r[:head]) + "…" + string(r[len(r)-tail:])
}

// oneLine folds s onto one line of at most n runes, ending in "…" when cut.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
