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

// allRules are the semantic rules in the order they run, which is the order
// of the problems they report. (They used to register themselves from init
// functions, in the order of their files' names; this is that order.)
var allRules = []func(*pkg){
	// rules_fields.go
	ruleFields, ruleEmbeddedECS,
	// rules_kibana.go
	ruleMinimumKibana, ruleKibanaObjects, ruleTags, ruleCapabilities, ruleDashboards,
	// rules_manifest.go
	ruleChangelog, ruleManifestFormats, rulePrerelease, ruleAgentVersion,
	ruleRequiredVars, ruleVarGroups, ruleSections, ruleDeploymentModes,
	ruleDurationVars, ruleInputTemplates, ruleDynamicSignalTypes, ruleFleetReservedVars,
	ruleIntegrationTemplates, ruleCategories, ruleDeprecation, ruleInputQualifier,
	ruleReplacedBy, rulePackageReferences, ruleTestRequires, ruleBuildMode,
	ruleProfilesGA, ruleILM, ruleRoutingRules,
	// rules_misc.go
	rulePipelines, ruleHandlebars, ruleDocsStructure,
}
