package eprcli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// MaxConfigSize bounds config.yml: a real one is a few hundred bytes.
const MaxConfigSize = 1 << 20

// Config is EPR's config.yml.
type Config struct {
	// PackagePaths are the folders of packages, as written: EPR opens
	// them relative to its working directory (not to the file), and so
	// does serve.
	PackagePaths []string
	// Cache times of /, /index.json and /package/N/V/ (index), /search,
	// /categories, and everything else (catch_all).
	CacheTimeIndex, CacheTimeSearch, CacheTimeCategories, CacheTimeCatchAll time.Duration
}

// DefaultConfig holds EPR's defaults.
var DefaultConfig = Config{
	CacheTimeIndex:      10 * time.Second,
	CacheTimeSearch:     10 * time.Minute,
	CacheTimeCategories: 10 * time.Minute,
	CacheTimeCatchAll:   10 * time.Minute,
}

// sqlOnly are keys EPR reads only for its SQL storage indexer.
var sqlOnly = map[string]bool{"sql_indexer.database_folder_path": true, "search.cache_size": true, "search.cache_ttl": true}

// ParseConfig reads config.yml as EPR (go-ucfg without a path separator)
// does: keys are literal, so `cache_time.search: 5m` is a key of its own
// and a nested `cache_time:` mapping sets nothing; durations are Go
// durations or numbers of seconds; package_paths is a list or one
// string. Keys EPR does not know are ignored, as EPR ignores them, with a
// warning each.
func ParseConfig(data []byte) (*Config, []string, error) {
	if len(data) > MaxConfigSize {
		return nil, nil, fmt.Errorf("larger than %d bytes", MaxConfigSize)
	}
	cfg := DefaultConfig
	var warns []string
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return &cfg, nil, nil
		}
		return nil, nil, err
	}
	if len(doc.Content) == 0 {
		return &cfg, nil, nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return &cfg, nil, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, nil, fmt.Errorf("line %d: want a mapping", root.Line)
	}
	var errs []error
	var ignored []string
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		var err error
		switch key := k.Value; key {
		case "package_paths":
			cfg.PackagePaths, err = stringList(v)
		case "cache_time.index":
			cfg.CacheTimeIndex, err = duration(v)
		case "cache_time.search":
			cfg.CacheTimeSearch, err = duration(v)
		case "cache_time.categories":
			cfg.CacheTimeCategories, err = duration(v)
		case "cache_time.catch_all":
			cfg.CacheTimeCatchAll, err = duration(v)
		default:
			switch {
			case sqlOnly[key]:
				warns = append(warns, fmt.Sprintf("config: %s is read by EPR's SQL storage indexer only; pkgstore needs no database (no effect)", key))
			case v.Kind == yaml.MappingNode:
				warns = append(warns, fmt.Sprintf("config: %s is a nested mapping; EPR reads only literal dotted keys (%s.NAME: VALUE) and ignores it, and so does pkgstore", key, key))
			default:
				ignored = append(ignored, key)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("line %d: %s: %w", v.Line, k.Value, err))
		}
	}
	if len(ignored) > 0 {
		sort.Strings(ignored)
		warns = append(warns, fmt.Sprintf("config: unknown keys ignored, as EPR ignores them: %s", strings.Join(ignored, ", ")))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	return &cfg, warns, nil
}

func stringList(v *yaml.Node) ([]string, error) {
	switch v.Kind {
	case yaml.ScalarNode:
		if v.Tag == "!!null" {
			return nil, nil
		}
		return []string{v.Value}, nil
	case yaml.SequenceNode:
		out := make([]string, 0, len(v.Content))
		for _, e := range v.Content {
			if e.Kind != yaml.ScalarNode || e.Tag == "!!null" {
				return nil, fmt.Errorf("line %d: want a path", e.Line)
			}
			out = append(out, e.Value)
		}
		return out, nil
	}
	return nil, errors.New("want a list of paths")
}

func duration(v *yaml.Node) (time.Duration, error) {
	if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
		return 0, errors.New("want a duration such as 10m")
	}
	switch v.Tag {
	case "!!int", "!!float":
		// A number is seconds, as go-ucfg reads it.
		s, err := strconv.ParseFloat(v.Value, 64)
		if err != nil || s < 0 || s > math.MaxInt64/float64(time.Second) {
			return 0, fmt.Errorf("%q is not a number of seconds", v.Value)
		}
		return time.Duration(s * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(v.Value)
	if err != nil {
		return 0, err
	}
	if d < 0 {
		return 0, fmt.Errorf("negative duration %s", v.Value)
	}
	return d, nil
}
