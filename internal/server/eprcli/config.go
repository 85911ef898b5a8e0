package eprcli

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	yamlv2 "gopkg.in/yaml.v2"
)

// MaxConfigSize bounds config.yml: a real one is a few hundred bytes.
const MaxConfigSize = 1 << 20

// maxConfigDepth bounds the nesting walked for keys: a real config.yml is
// two levels deep.
const maxConfigDepth = 1000

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

// ParseConfig reads config.yml as EPR 1.40.1 does: go-ucfg without a path
// separator over gopkg.in/yaml.v2 (the version in the reference binary),
// so the YAML is 1.1 as EPR reads it: anchors, aliases and merge keys
// (a merge overrides a key set before it), 017 octal, 0x10 hex, yes/no
// booleans, the first document only, the later of two equal keys.
// Then, as go-ucfg unpacks EPR's Config:
//
//   - keys are literal: `cache_time.search: 5m` is a key of its own and a
//     nested `cache_time:` mapping sets nothing; every key of every
//     mapping must be a string, or EPR refuses the file;
//   - a cache time is a Go duration string, or a number of seconds (an
//     integer multiplied by time.Second with Go's wrapping arithmetic, a
//     float converted as the amd64 reference converts it); null keeps the
//     default; anything else is refused;
//   - package_paths is a list (null items are "", scalars formatted as
//     ucfg formats them: true, 16, 1.5), one scalar (a list of one), or a
//     mapping (no paths at all);
//   - unknown keys are ignored, as EPR ignores them, with a warning.
//
// A cache time that is not positive is refused later, by checkCacheTimes,
// as EPR's router refuses it.
func ParseConfig(data []byte) (cfg *Config, warns []string, err error) {
	if len(data) > MaxConfigSize {
		return nil, nil, fmt.Errorf("larger than %d bytes", MaxConfigSize)
	}
	defer func() {
		if r := recover(); r != nil {
			cfg, warns, err = nil, nil, fmt.Errorf("yaml parser failure: %v", r)
		}
	}()
	var doc any
	if err := yamlv2.Unmarshal(data, &doc); err != nil {
		return nil, nil, err
	}
	c := DefaultConfig
	if doc == nil {
		return &c, nil, nil
	}
	if err := stringKeys(doc, 0); err != nil {
		return nil, nil, err
	}
	root, ok := doc.(map[any]any)
	if !ok {
		if _, list := doc.([]any); list {
			// go-ucfg takes a list in and finds none of the keys in it.
			return &c, []string{"config: the file is a list, not a mapping; EPR reads no setting from it, and neither does pkgstore"}, nil
		}
		return nil, nil, fmt.Errorf("want a mapping, found %s", kindOf(doc))
	}
	keys := make([]string, 0, len(root))
	for k := range root {
		keys = append(keys, k.(string))
	}
	sort.Strings(keys)
	var errs []error
	var ignored []string
	for _, key := range keys {
		v := root[key]
		var err error
		switch key {
		case "package_paths":
			c.PackagePaths, err = stringList(v)
		case "cache_time.index":
			err = duration(v, &c.CacheTimeIndex)
		case "cache_time.search":
			err = duration(v, &c.CacheTimeSearch)
		case "cache_time.categories":
			err = duration(v, &c.CacheTimeCategories)
		case "cache_time.catch_all":
			err = duration(v, &c.CacheTimeCatchAll)
		default:
			_, nested := v.(map[any]any)
			switch {
			case sqlOnly[key]:
				warns = append(warns, fmt.Sprintf("config: %s is read by EPR's SQL storage indexer only; pkgstore needs no database (no effect)", key))
			case nested:
				warns = append(warns, fmt.Sprintf("config: %s is a nested mapping; EPR reads only literal dotted keys (%s.NAME: VALUE) and ignores it, and so does pkgstore", key, key))
			default:
				ignored = append(ignored, key)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
		}
	}
	if len(ignored) > 0 {
		warns = append(warns, fmt.Sprintf("config: unknown keys ignored, as EPR ignores them: %s", strings.Join(ignored, ", ")))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	return &c, warns, nil
}

// stringKeys refuses what go-ucfg refuses when it takes the document in:
// a mapping key that is not a string, at any depth.
func stringKeys(v any, depth int) error {
	if depth > maxConfigDepth {
		return errors.New("nested too deep")
	}
	switch x := v.(type) {
	case map[any]any:
		for k, e := range x {
			if _, ok := k.(string); !ok {
				return fmt.Errorf("string key required, found %s key %v", kindOf(k), k)
			}
			if err := stringKeys(e, depth+1); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range x {
			if err := stringKeys(e, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

func stringList(v any) ([]string, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case map[any]any:
		// go-ucfg reads a mapping as a list of its list items: none.
		return nil, nil
	case []any:
		out := make([]string, 0, len(x))
		for i, e := range x {
			s, err := ucfgString(e)
			if err != nil {
				return nil, fmt.Errorf("item %d: %w", i, err)
			}
			out = append(out, s)
		}
		return out, nil
	}
	s, err := ucfgString(v)
	if err != nil {
		return nil, err
	}
	return []string{s}, nil
}

// ucfgString formats a scalar as go-ucfg does for a string field.
func ucfgString(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case float64:
		return fmt.Sprintf("%v", x), nil
	}
	return "", fmt.Errorf("can not convert %s into a string", kindOf(v))
}

// duration sets *d from a cache time; null keeps the default.
func duration(v any, d *time.Duration) error {
	switch x := v.(type) {
	case nil:
		return nil
	case int:
		// Seconds, with Go's wrapping multiplication, as go-ucfg's
		// time.Duration(i) * time.Second.
		*d = time.Duration(x) * time.Second
	case int64:
		*d = time.Duration(x) * time.Second
	case uint64:
		*d = time.Duration(x) * time.Second
	case float64:
		*d = floatSeconds(x)
	case string:
		p, err := time.ParseDuration(x)
		if err != nil {
			return err
		}
		*d = p
	case bool:
		_, err := time.ParseDuration(strconv.FormatBool(x))
		return err
	default:
		return fmt.Errorf("want a duration such as 10m, found %s", kindOf(v))
	}
	return nil
}

// floatSeconds is go-ucfg's time.Duration(f * float64(time.Second)) as
// the reference (amd64) computes it: a product outside int64, or NaN,
// becomes the smallest int64 (refused later as not positive).
func floatSeconds(f float64) time.Duration {
	ns := f * float64(time.Second)
	if math.IsNaN(ns) || ns >= math.MaxInt64 || ns < math.MinInt64 {
		return time.Duration(math.MinInt64)
	}
	return time.Duration(ns)
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[any]any:
		return "a mapping"
	case []any:
		return "a list"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int, int64, uint64:
		return "an integer"
	case float64:
		return "a float"
	}
	return fmt.Sprintf("%T", v)
}
