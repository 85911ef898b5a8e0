// Package flagconfig fills a command's flags from the environment and from a
// YAML file, so that every flag of `pkgstore serve` can be set three ways
// with one precedence: the command line, then PKGSTORE_<FLAG>, then the
// file given by --config (keys are the flag names).
package flagconfig

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// MaxFileSize bounds a configuration file: a real one is a few kilobytes.
const MaxFileSize = 1 << 20

// ErrUnknownKey is wrapped by the error for a key that names no flag.
var ErrUnknownKey = errors.New("unknown key")

// EnvName is the environment variable of a flag: prefix, then the flag's
// name upper-cased with dashes as underscores (PKGSTORE_TLS_CERT for
// --tls-cert with prefix "PKGSTORE_"). EPR names its variables the same
// way with "EPR_".
func EnvName(prefix, flag string) string {
	return prefix + strings.ReplaceAll(strings.ToUpper(flag), "-", "_")
}

// skip are flags that no environment variable or file sets: help is not a
// setting.
var skip = map[string]bool{"help": true}

// FromEnv sets every flag the command line did not set whose variable
// lookup finds with a non-empty value (an empty variable is treated as
// unset, so that `PKGSTORE_X=` in a unit file clears nothing by accident).
// Repeatable flags take a comma-separated list. A set flag counts as
// changed, so a later FromFile leaves it alone.
func FromEnv(fs *pflag.FlagSet, prefix string, lookup func(string) (string, bool)) error {
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		if skip[f.Name] || f.Changed {
			return
		}
		name := EnvName(prefix, f.Name)
		v, ok := lookup(name)
		if !ok || v == "" {
			return
		}
		var vals []string
		if isList(f) {
			vals = strings.Split(v, ",")
		} else {
			vals = []string{v}
		}
		if err := set(fs, f, vals); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	})
	return errors.Join(errs...)
}

// FromFile sets every flag not set yet from the YAML file at path: a
// mapping from flag names to scalars (or, for repeatable flags, to a list
// or a scalar). A key that names no flag, a nested mapping, a null value
// or a second document is an error naming the key, so that a typo never
// leaves a setting silently at its default. configFlag is the flag that
// names the file itself, which the file may not set.
func FromFile(fs *pflag.FlagSet, path, configFlag string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return fmt.Errorf("config file %s: larger than %d bytes", path, MaxFileSize)
	}
	if err := FromYAML(fs, data, configFlag); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	return nil
}

// FromYAML is FromFile over the file's bytes.
func FromYAML(fs *pflag.FlagSet, data []byte, configFlag string) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file sets nothing
		}
		return err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return errors.New("more than one YAML document")
	}
	if len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: want a mapping of flag names to values", root.Line)
	}
	seen := map[string]bool{}
	var errs []error
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		key := k.Value
		if seen[key] {
			errs = append(errs, fmt.Errorf("line %d: key %q given twice", k.Line, key))
			continue
		}
		seen[key] = true
		fl := fs.Lookup(key)
		if fl == nil || skip[key] || key == configFlag {
			why := ""
			if key == configFlag {
				why = " (a configuration file cannot name another)"
			} else if s := suggest(fs, key); s != "" {
				why = fmt.Sprintf(" (did you mean %q?)", s)
			}
			errs = append(errs, fmt.Errorf("line %d: %w %q%s", k.Line, ErrUnknownKey, key, why))
			continue
		}
		vals, err := values(v, isList(fl))
		if err != nil {
			errs = append(errs, fmt.Errorf("line %d: key %q: %w", v.Line, key, err))
			continue
		}
		if fl.Changed {
			continue // the command line or the environment set it
		}
		if err := set(fs, fl, vals); err != nil {
			errs = append(errs, fmt.Errorf("line %d: key %q: %w", v.Line, key, err))
		}
	}
	return errors.Join(errs...)
}

// values reads a key's value: a scalar, or a list of scalars for a
// repeatable flag.
func values(v *yaml.Node, list bool) ([]string, error) {
	switch v.Kind {
	case yaml.ScalarNode:
		if v.Tag == "!!null" {
			return nil, errors.New("no value")
		}
		return []string{v.Value}, nil
	case yaml.SequenceNode:
		if !list {
			return nil, errors.New("a list, but the flag takes one value")
		}
		out := make([]string, 0, len(v.Content))
		for _, e := range v.Content {
			if e.Kind != yaml.ScalarNode || e.Tag == "!!null" {
				return nil, fmt.Errorf("line %d: list items must be scalars", e.Line)
			}
			out = append(out, e.Value)
		}
		return out, nil
	case yaml.AliasNode:
		return nil, errors.New("aliases are not accepted")
	default:
		return nil, errors.New("want a scalar value (a string, number or boolean)")
	}
}

// isList reports whether f is repeatable (stringArray, stringSlice…).
func isList(f *pflag.Flag) bool {
	_, ok := f.Value.(pflag.SliceValue)
	return ok
}

// set gives f its values as if the command line had: a repeatable flag
// gets exactly vals (not appended to its default).
func set(fs *pflag.FlagSet, f *pflag.Flag, vals []string) error {
	if sv, ok := f.Value.(pflag.SliceValue); ok {
		for i, v := range vals {
			vals[i] = strings.TrimSpace(v)
		}
		if err := sv.Replace(vals); err != nil {
			return fmt.Errorf("invalid value %q for --%s: %w", strings.Join(vals, ","), f.Name, err)
		}
		f.Changed = true
		return nil
	}
	if len(vals) != 1 {
		return fmt.Errorf("--%s takes one value", f.Name)
	}
	if err := fs.Set(f.Name, vals[0]); err != nil {
		return fmt.Errorf("invalid value %q for --%s: %w", vals[0], f.Name, unwrapPflag(err))
	}
	return nil
}

// unwrapPflag drops pflag's own restatement of the value and flag.
func unwrapPflag(err error) error {
	if u := errors.Unwrap(err); u != nil {
		return u
	}
	return err
}

// suggest returns the flag whose name is closest to key (one edit, or
// underscores for dashes), or "".
func suggest(fs *pflag.FlagSet, key string) string {
	alt := strings.ReplaceAll(key, "_", "-")
	var names []string
	fs.VisitAll(func(f *pflag.Flag) {
		if !skip[f.Name] && (f.Name == alt || levenshtein(f.Name, key) <= 2) {
			names = append(names, f.Name)
		}
	})
	sort.Strings(names)
	if len(names) == 0 {
		return ""
	}
	return names[0]
}

func levenshtein(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30 // flag names are short; bound the work
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
