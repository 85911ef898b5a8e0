package markdown

import (
	"bytes"
	"fmt"
)

// Shapes goldmark parses in more than linear time. The budget stops any
// render, whatever its shape; the pre-check refuses the known shapes
// cheaply, in one pass, before the parser runs, so they cost nothing.
// Measured before the budget existed (1 MiB): "> - " repeated 5 min 37 s,
// "[a](\n" repeated 15 s.
const (
	// maxContainers bounds the container markers opening one line (">",
	// "-", "+", "*", "1." and "1)"): every one opens a block inside the
	// previous one, and goldmark's cost grows with the square of the
	// nesting.
	maxContainers = 32
	// maxIndent bounds the leading columns of one line: list items nest
	// by indentation across lines, two columns a level at least.
	maxIndent = 128
	// maxInlineCost bounds, for each paragraph (a run of non-blank lines,
	// whatever their container markers), the number of "[" that do not
	// open an inline link closed on their line, times the paragraph's
	// length: such a bracket is looked for up to the end of its
	// paragraph, across lines ("[a](\n" and "[a]\n" repeated, 256 KiB:
	// 1.5 s of CPU, four times the size sixteen times the time). Tags
	// and code spans measured linear.
	maxInlineCost = 1 << 28
	// maxTableColumns bounds the "|" of one line.
	maxTableColumns = 512
	// maxHeadings bounds the headings ("#" lines and "=" underlines):
	// each gets an id unique in the page, found by trying "a-1", "a-2"…
	// in turn, so many headings of one text cost the square of their
	// number (256 KiB of "# a\n": 0.5 s of CPU; 10,000 headings: 80 ms).
	maxHeadings = 10000
)

// tooComplex returns why src has a shape goldmark parses slowly, or "".
func tooComplex(src []byte) string {
	var para, openers int // the current paragraph's length and openers
	headings := 0
	for len(src) > 0 {
		line := src
		if i := bytes.IndexByte(src, '\n'); i >= 0 {
			line, src = src[:i+1], src[i+1:]
		} else {
			src = nil
		}
		containers, indent, rest := leadingContainers(line)
		if containers > maxContainers {
			return fmt.Sprintf("its Markdown nests more than %d blocks on one line", maxContainers)
		}
		if indent > maxIndent {
			return fmt.Sprintf("a line is indented by more than %d columns", maxIndent)
		}
		if bytes.Count(line, []byte("|")) > maxTableColumns {
			return fmt.Sprintf("a table row has more than %d columns", maxTableColumns)
		}
		if len(bytes.TrimSpace(rest)) == 0 {
			para, openers = 0, 0 // a blank line ends the paragraph
			continue
		}
		if len(rest) > 0 && (rest[0] == '#' || rest[0] == '=' && para > 0) {
			if headings++; headings > maxHeadings {
				return fmt.Sprintf("it has more than %d headings", maxHeadings)
			}
		}
		para += len(line)
		openers += unclosedLinks(line)
		if openers*para > maxInlineCost {
			return "a paragraph has too many link brackets that may not close"
		}
	}
	return ""
}

// leadingContainers counts the container markers and the columns of
// indentation that open line, and returns what follows them.
func leadingContainers(line []byte) (containers, indent int, rest []byte) {
	i := 0
	for i < len(line) {
		switch c := line[i]; {
		case c == ' ':
			indent++
			i++
		case c == '\t':
			indent += 4
			i++
		case c == '>':
			containers++
			indent++
			i++
		case c == '-' || c == '+' || c == '*':
			if !markerEnds(line, i+1) {
				return containers, indent, line[i:]
			}
			containers++
			i++
		case c >= '0' && c <= '9':
			j := i
			for j < len(line) && j-i < 10 && line[j] >= '0' && line[j] <= '9' {
				j++
			}
			if j == len(line) || (line[j] != '.' && line[j] != ')') || !markerEnds(line, j+1) {
				return containers, indent, line[i:]
			}
			containers++
			i = j + 1
		default:
			return containers, indent, line[i:]
		}
	}
	return containers, indent, nil
}

// markerEnds reports whether a list marker ending before line[i] is one:
// followed by a blank or the end of the line.
func markerEnds(line []byte, i int) bool {
	return i >= len(line) || line[i] == ' ' || line[i] == '\t' || line[i] == '\n' || line[i] == '\r'
}

// unclosedLinks counts the "[" of line not followed, on the line, by a
// "](" that a ")" follows: brackets that are not plain inline links. One
// pass from the right; approximate (the "](" may close another link),
// which errs towards accepting ordinary text.
func unclosedLinks(line []byte) int {
	n := 0
	paren, closed := false, false // a ")" at or after i; a "](" followed by one
	for i := len(line) - 1; i >= 0; i-- {
		switch line[i] {
		case ')':
			paren = true
		case ']':
			if paren && i+1 < len(line) && line[i+1] == '(' {
				closed = true
			}
		case '[':
			if !closed {
				n++
			}
		}
	}
	return n
}
