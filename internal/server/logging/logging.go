// Package logging builds the store's loggers (text, or JSON with Elastic
// Common Schema field names as EPR's "ecs" log type writes them) and the
// HTTP middleware that gives every request an id and one access-log line.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// ECSVersion is the ECS version EPR's logs declare.
const ECSVersion = "1.6.0"

// Formats accepted by New.
const (
	FormatText = "text"
	FormatECS  = "ecs"
)

// ParseLevel reads debug, info, warn or error.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("log level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// New returns a logger writing to w in format ("text"; "ecs" or "json" for
// ECS JSON) at level and above. service names the program in ECS records.
func New(w io.Writer, format, level, service, version string) (*slog.Logger, error) {
	l, err := ParseLevel(level)
	if err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: l}
	switch strings.ToLower(format) {
	case "", FormatText, "dev":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case FormatECS, "json":
		opts.ReplaceAttr = ecsAttr
		h := slog.NewJSONHandler(w, opts).WithAttrs([]slog.Attr{
			slog.String("service.name", service),
			slog.String("service.version", version),
			slog.String("ecs.version", ECSVersion),
		})
		return slog.New(h), nil
	}
	return nil, fmt.Errorf("log format %q: want text or ecs", format)
}

// ecsAttr renames slog's built-in keys to ECS's and formats the time as
// EPR does (UTC, milliseconds).
func ecsAttr(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.TimeKey:
		return slog.String("@timestamp", a.Value.Time().UTC().Format("2006-01-02T15:04:05.000Z07:00"))
	case slog.LevelKey:
		return slog.String("log.level", strings.ToLower(a.Value.String()))
	case slog.MessageKey:
		return slog.Attr{Key: "message", Value: a.Value}
	case "err", "error":
		return slog.Attr{Key: "error.message", Value: slog.StringValue(fmt.Sprint(a.Value.Any()))}
	case "took":
		if d, ok := a.Value.Any().(time.Duration); ok {
			return slog.Int64("event.duration", d.Nanoseconds())
		}
	}
	return a
}
