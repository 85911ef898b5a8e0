package validate

import (
	"fmt"
	"strings"
)

// checkHandlebars parses a Handlebars template enough to detect the errors
// package-spec reports: unterminated mustaches or comments, unbalanced block
// helpers and mismatched closing tags. Messages follow the Handlebars parser
// ("Parse error on line N:\nExpecting OpenEndBlock, got: 'EOF'").
func checkHandlebars(src string) error {
	type open struct {
		name string
		line int
	}
	var stack []open
	line := 1
	i := 0
	for i < len(src) {
		j := strings.Index(src[i:], "{{")
		if j < 0 {
			line += strings.Count(src[i:], "\n")
			break
		}
		line += strings.Count(src[i:i+j], "\n")
		i += j
		if i > 0 && src[i-1] == '\\' { // escaped mustache
			i += 2
			continue
		}
		start := line
		var end string
		switch {
		case strings.HasPrefix(src[i:], "{{!--"):
			end = "--}}"
		case strings.HasPrefix(src[i:], "{{{{"):
			end = "}}}}"
		case strings.HasPrefix(src[i:], "{{{"):
			end = "}}}"
		default:
			end = "}}"
		}
		k := strings.Index(src[i+2:], end)
		if k < 0 {
			return fmt.Errorf("Parse error on line %d:\nExpecting 'CLOSE', got: 'EOF'", start)
		}
		body := src[i+2 : i+2+k]
		line += strings.Count(body, "\n")
		i += 2 + k + len(end)
		if end == "--}}" || strings.HasPrefix(body, "!") {
			continue
		}
		inner := strings.TrimSpace(strings.Trim(strings.TrimSpace(body), "~{}"))
		if inner == "" {
			return fmt.Errorf("Parse error on line %d:\nExpecting 'ID', got: 'CLOSE'", start)
		}
		switch inner[0] {
		case '#':
			name := strings.Fields(strings.TrimLeft(inner[1:], ">*"))
			if len(name) == 0 {
				return fmt.Errorf("Parse error on line %d:\nExpecting 'ID', got: 'CLOSE'", start)
			}
			stack = append(stack, open{name: name[0], line: start})
		case '^':
			rest := strings.Fields(inner[1:])
			if len(rest) > 0 { // inverse block
				stack = append(stack, open{name: rest[0], line: start})
			} else if len(stack) == 0 {
				return fmt.Errorf("Parse error on line %d:\nunexpected inverse section", start)
			}
		case '/':
			name := strings.TrimSpace(inner[1:])
			if len(stack) == 0 {
				return fmt.Errorf("Parse error on line %d:\nExpecting 'EOF', got: 'OPEN_ENDBLOCK'", start)
			}
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if top.name != name {
				return fmt.Errorf("%s doesn't match %s", top.name, name)
			}
		}
	}
	if len(stack) > 0 {
		return fmt.Errorf("Parse error on line %d:\nExpecting OpenEndBlock, got: 'EOF'", line)
	}
	return nil
}
