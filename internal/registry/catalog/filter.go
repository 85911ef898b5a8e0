package catalog

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// Filter is a parsed /search or /categories query (epr-api.md §2.1-§2.2).
type Filter struct {
	KibanaVersion *semver.Version
	AgentVersion  *semver.Version
	Category      string
	Package       string
	Version       string // exact version; internal lookups only
	Type          string
	All           bool
	Capabilities  []string // nil: not requested
	SpecMin       *semver.Version
	SpecMax       *semver.Version
	Prerelease    bool
	Experimental  bool
	Discovery     []DiscoveryFilter
}

// DiscoveryFilter is one discovery=TYPE:a,b,c parameter.
type DiscoveryFilter struct {
	Fields   bool // true: "fields", false: "datasets"
	Values   []string
	valueSet map[string]bool
}

// CategoriesQuery is a parsed /categories query.
type CategoriesQuery struct {
	Filter
	IncludePolicyTemplates bool
}

// ErrBadQuery marks query errors; its message is the response body.
type ErrBadQuery struct{ msg string }

func (e *ErrBadQuery) Error() string { return e.msg }

func badQuery(format string, args ...any) error {
	return &ErrBadQuery{msg: fmt.Sprintf(format, args...)}
}

// IsBadQuery reports whether err is a query parse error (HTTP 400).
func IsBadQuery(err error) bool {
	var e *ErrBadQuery
	return errors.As(err, &e)
}

var (
	searchParams = map[string]bool{
		"kibana.version": true, "agent.version": true, "category": true, "package": true,
		"type": true, "all": true, "capabilities": true, "spec.min": true, "spec.max": true,
		"prerelease": true, "experimental": true, "discovery": true, "internal": true,
	}
	categoriesParams = map[string]bool{
		"kibana.version": true, "agent.version": true, "capabilities": true,
		"spec.min": true, "spec.max": true, "prerelease": true, "experimental": true,
		"discovery": true, "include_policy_templates": true,
	}
)

// ParseSearch parses a /search query.
func ParseSearch(q url.Values, allowUnknown bool) (Filter, error) {
	return parse(q, searchParams, allowUnknown)
}

// ParseCategories parses a /categories query.
func ParseCategories(q url.Values, allowUnknown bool) (CategoriesQuery, error) {
	f, err := parse(q, categoriesParams, allowUnknown)
	if err != nil {
		return CategoriesQuery{}, err
	}
	cq := CategoriesQuery{Filter: f}
	if v := q.Get("include_policy_templates"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return CategoriesQuery{}, badQuery("invalid 'include_policy_templates' query param: '%s'", v)
		}
		cq.IncludePolicyTemplates = b
	}
	return cq, nil
}

func parse(q url.Values, known map[string]bool, allowUnknown bool) (Filter, error) {
	var f Filter
	// Sorted so that, with several bad parameters, the error is stable
	// (EPR's choice among them is random).
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !known[k] {
			if !allowUnknown {
				return f, badQuery("unknown query parameter: %q", k)
			}
			continue
		}
		if k == "discovery" {
			for _, v := range q[k] {
				d, err := parseDiscovery(v)
				if err != nil {
					return f, badQuery("invalid 'discovery' query param: '%s': %v", v, err)
				}
				f.Discovery = append(f.Discovery, d)
			}
			continue
		}
		v := q[k][0]
		if v == "" {
			continue
		}
		var err error
		switch k {
		case "kibana.version":
			if f.KibanaVersion, err = semver.NewVersion(v); err != nil {
				return f, badQuery("invalid Kibana version '%s': %v", v, err)
			}
		case "agent.version":
			if f.AgentVersion, err = semver.NewVersion(v); err != nil {
				return f, badQuery("invalid agent version '%s': %v", v, err)
			}
		case "category":
			f.Category = v
		case "package":
			f.Package = v
		case "type":
			f.Type = v
		case "all":
			if f.All, err = strconv.ParseBool(v); err != nil {
				return f, badQuery("invalid 'all' query param: '%s'", v)
			}
		case "capabilities":
			f.Capabilities = strings.Split(v, ",")
		case "spec.min":
			if f.SpecMin, err = parseSpec(v); err != nil {
				return f, badQuery("invalid 'spec.min' version: %v", err)
			}
		case "spec.max":
			if f.SpecMax, err = parseSpec(v); err != nil {
				return f, badQuery("invalid 'spec.max' version: %v", err)
			}
		case "prerelease":
			if f.Prerelease, err = strconv.ParseBool(v); err != nil {
				return f, badQuery("invalid 'prerelease' query param: '%s'", v)
			}
		case "experimental":
			if f.Experimental, err = strconv.ParseBool(v); err != nil {
				return f, badQuery("invalid 'experimental' query param: '%s'", v)
			}
		}
	}
	return f, nil
}

// parseSpec parses a MAJOR.MINOR spec bound.
func parseSpec(v string) (*semver.Version, error) {
	if len(strings.Split(v, ".")) != 2 {
		return nil, fmt.Errorf("invalid version '%s': it should be <major.version>", v)
	}
	sv, err := semver.NewVersion(v)
	if err != nil {
		return nil, fmt.Errorf("invalid spec version '%s': %v", v, err)
	}
	return sv, nil
}

func parseDiscovery(v string) (DiscoveryFilter, error) {
	typ, list, ok := strings.Cut(v, ":")
	if !ok {
		return DiscoveryFilter{}, fmt.Errorf("could not parse filter %q", v)
	}
	d := DiscoveryFilter{valueSet: map[string]bool{}}
	switch typ {
	case "fields":
		d.Fields = true
	case "datasets":
	default:
		return DiscoveryFilter{}, fmt.Errorf("unknown discovery filter %q", typ)
	}
	d.Values = strings.Split(list, ",")
	for _, x := range d.Values {
		d.valueSet[x] = true
	}
	return d, nil
}

func (d DiscoveryFilter) matches(r *Revision) bool {
	if d.Fields {
		if !r.hasFields {
			return false
		}
		for _, f := range r.fields {
			if !d.valueSet[f] {
				return false
			}
		}
		return true
	}
	if !r.hasDatasets {
		return false
	}
	return slices.ContainsFunc(r.datasets, func(s string) bool { return d.valueSet[s] })
}
