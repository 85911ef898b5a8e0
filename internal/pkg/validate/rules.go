package validate

// loadExcludes reads validation.yml errors.exclude_checks.
func (p *pkg) loadExcludes() {
	if !p.exists("validation.yml") {
		return
	}
	v, _, err := p.parsed("validation.yml")
	if err != nil {
		return
	}
	m, _ := v.(map[string]any)
	errs, _ := m["errors"].(map[string]any)
	list, _ := errs["exclude_checks"].([]any)
	for _, x := range list {
		if s, ok := x.(string); ok {
			p.excluded = append(p.excluded, s)
		}
	}
}

// runRules runs the semantic rules (package-spec §4).
func (p *pkg) runRules() {
	for _, r := range allRules {
		if p.ioErr != nil || p.ctx.Err() != nil {
			return
		}
		r(p)
	}
}

var allRules []func(*pkg)
