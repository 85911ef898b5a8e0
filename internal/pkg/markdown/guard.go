package markdown

import (
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
)

// meterKey holds the render's *meter in goldmark's parser context, which
// every parser callback receives: one shared goldmark instance, one meter
// per render.
var meterKey = parser.NewContextKey()

func tick(pc parser.Context) {
	if m, ok := pc.Get(meterKey).(*meter); ok {
		m.tick()
	}
}

// guard is the parser option that wraps every block parser, inline parser,
// paragraph transformer and AST transformer configured before it (the
// defaults and GFM's) so that each call first ticks the render's meter.
// goldmark applies parser options to its configuration in order and reads
// that configuration only at the first parse, so it must be added last.
type guard struct{}

func (guard) SetParserOption(c *parser.Config) {
	for i, v := range c.BlockParsers {
		c.BlockParsers[i].Value = &guardedBlock{inner: v.Value.(parser.BlockParser)}
	}
	for i, v := range c.InlineParsers {
		ip := v.Value.(parser.InlineParser)
		if cb, ok := ip.(parser.CloseBlocker); ok {
			c.InlineParsers[i].Value = &guardedCloser{guardedInline{inner: ip}, cb}
		} else {
			c.InlineParsers[i].Value = &guardedInline{inner: ip}
		}
	}
	for i, v := range c.ParagraphTransformers {
		c.ParagraphTransformers[i].Value = &guardedParagraph{inner: v.Value.(parser.ParagraphTransformer)}
	}
	for i, v := range c.ASTTransformers {
		c.ASTTransformers[i].Value = &guardedAST{inner: v.Value.(parser.ASTTransformer)}
	}
}

// setOption forwards goldmark's options (auto heading ids) to the wrapped
// parser, when it takes any.
func setOption(inner any, name parser.OptionName, value any) {
	if so, ok := inner.(parser.SetOptioner); ok {
		so.SetOption(name, value)
	}
}

type guardedBlock struct{ inner parser.BlockParser }

func (g *guardedBlock) SetOption(n parser.OptionName, v any) { setOption(g.inner, n, v) }
func (g *guardedBlock) Trigger() []byte                      { return g.inner.Trigger() }
func (g *guardedBlock) Open(parent ast.Node, r text.Reader, pc parser.Context) (ast.Node, parser.State) {
	tick(pc)
	return g.inner.Open(parent, r, pc)
}
func (g *guardedBlock) Continue(node ast.Node, r text.Reader, pc parser.Context) parser.State {
	tick(pc)
	return g.inner.Continue(node, r, pc)
}
func (g *guardedBlock) Close(node ast.Node, r text.Reader, pc parser.Context) {
	tick(pc)
	g.inner.Close(node, r, pc)
}
func (g *guardedBlock) CanInterruptParagraph() bool { return g.inner.CanInterruptParagraph() }
func (g *guardedBlock) CanAcceptIndentedLine() bool { return g.inner.CanAcceptIndentedLine() }

type guardedInline struct{ inner parser.InlineParser }

func (g *guardedInline) SetOption(n parser.OptionName, v any) { setOption(g.inner, n, v) }
func (g *guardedInline) Trigger() []byte                      { return g.inner.Trigger() }
func (g *guardedInline) Parse(parent ast.Node, block text.Reader, pc parser.Context) ast.Node {
	tick(pc)
	n := g.inner.Parse(parent, block, pc)
	// Emphasis and strikethrough are matched later, by the delimiter
	// processors the parser calls for the whole block: they tick too.
	if d, ok := n.(*parser.Delimiter); ok && d.Processor != nil {
		if _, done := d.Processor.(*guardedDelimiter); !done {
			d.Processor = &guardedDelimiter{inner: d.Processor, pc: pc}
		}
	}
	return n
}

// guardedCloser is guardedInline for the parsers that are told when a
// block closes (links, linkify, strikethrough, task lists).
type guardedCloser struct {
	guardedInline
	cb parser.CloseBlocker
}

func (g *guardedCloser) CloseBlock(parent ast.Node, block text.Reader, pc parser.Context) {
	tick(pc)
	g.cb.CloseBlock(parent, block, pc)
}

type guardedDelimiter struct {
	inner parser.DelimiterProcessor
	pc    parser.Context
}

func (g *guardedDelimiter) IsDelimiter(b byte) bool { return g.inner.IsDelimiter(b) }
func (g *guardedDelimiter) CanOpenCloser(opener, closer *parser.Delimiter) bool {
	tick(g.pc)
	return g.inner.CanOpenCloser(opener, closer)
}
func (g *guardedDelimiter) OnMatch(consumes int) ast.Node {
	tick(g.pc)
	return g.inner.OnMatch(consumes)
}

type guardedParagraph struct{ inner parser.ParagraphTransformer }

func (g *guardedParagraph) SetOption(n parser.OptionName, v any) { setOption(g.inner, n, v) }
func (g *guardedParagraph) Transform(node *ast.Paragraph, r text.Reader, pc parser.Context) {
	tick(pc)
	g.inner.Transform(node, r, pc)
}

type guardedAST struct{ inner parser.ASTTransformer }

func (g *guardedAST) SetOption(n parser.OptionName, v any) { setOption(g.inner, n, v) }
func (g *guardedAST) Transform(node *ast.Document, r text.Reader, pc parser.Context) {
	tick(pc)
	g.inner.Transform(node, r, pc)
}
