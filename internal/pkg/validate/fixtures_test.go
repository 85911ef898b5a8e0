package validate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func validateDir(t testing.TB, dir string, opts Options) []Problem {
	t.Helper()
	opts.Dir = dir
	probs, err := Package(context.Background(), os.DirFS(dir), opts)
	if err != nil {
		t.Fatalf("%s: unexpected error: %v", dir, err)
	}
	return probs
}

func TestSpecFixturesValid(t *testing.T) {
	root := filepath.Join(extractShared(t, "spec-fixtures.tar.gz"), "valid")
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	ok := 0
	for _, e := range ents {
		probs := validateDir(t, filepath.Join(root, e.Name()), Options{})
		if len(probs) == 0 {
			ok++
			continue
		}
		var lines []string
		for _, p := range probs {
			lines = append(lines, "  "+p.String())
		}
		t.Errorf("valid/%s: %d problems:\n%s", e.Name(), len(probs), strings.Join(lines, "\n"))
	}
	t.Logf("valid fixtures accepted: %d/%d", ok, len(ents))
}

func TestSpecFixturesInvalid(t *testing.T) {
	root := filepath.Join(extractShared(t, "spec-fixtures.tar.gz"), "invalid")
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	right := 0
	for _, e := range ents {
		name := e.Name()
		opts := Options{}
		if warningFixtures[name] {
			opts.WarningsAsErrors = true
		}
		probs := validateDir(t, filepath.Join(root, name), opts)
		var lines []string
		for _, p := range probs {
			lines = append(lines, p.String())
		}
		all := strings.Join(lines, "\n")
		exp, known := expectedInvalid[name]
		switch {
		case len(probs) == 0:
			t.Errorf("invalid/%s: accepted", name)
		case !known:
			t.Errorf("invalid/%s: no expectation in the table; got:\n  %s", name, strings.Join(lines, "\n  "))
		default:
			miss := false
			for _, re := range exp {
				if !regexp.MustCompile(re).MatchString(all) {
					t.Errorf("invalid/%s: no problem matches %q; got:\n  %s", name, re, strings.Join(lines, "\n  "))
					miss = true
				}
			}
			if !miss {
				right++
			}
		}
	}
	t.Logf("invalid fixtures refused for the right reason: %d/%d", right, len(ents))
}

// warningFixtures are validated with WarningsAsErrors, as package-spec does.
var warningFixtures = map[string]bool{
	"visualizations_by_reference": true,
}

// expectedInvalid maps each invalid fixture to regexps that must all match
// the reported problems (package-spec-rules.md §7, matched on meaning).
var expectedInvalid = map[string][]string{
	"bad_additional_content": {
		`"bad-bad" is invalid: directory name inside package bad_additional_content contains -: bad-bad`,
	},
	"bad_agentless_release": {
		`policy template "test" sets agentless.release but agentless is the only deployment mode`,
	},
	"bad_configuration_links": {
		`configuration_links: Array must have at least 1 items`,
		`configuration_links.0: url is required`,
		`url: Does not match pattern`,
	},
	"bad_content_duplicate_tags": {
		`kibana/tags.yml" is invalid: duplicate tag name \'Tag One\' found \(SVR00007\)`,
	},
	"bad_dangling_object_ids": {
		`dangling reference found: bad_dangling_object_ids-8287a5d5-\S+ \(search\) \(SVR00003\)`,
	},
	"bad_datastream_categories_mismatch": {
		`data stream "mylogs" manifest categories \[security\] are missing policy template "mytemplate" categories \[observability\]`,
	},
	"bad_datastream_package_old_version": {
		`field streams.0: input is required`,
		`field streams.0: Additional property package is not allowed`,
	},
	"bad_deployer_system_benchmark": {
		`field deployer: deployer must be one of the following: "docker", "tf", "k8s"`,
	},
	"bad_deployment_mode": {
		`deployment_modes: Additional property default is not allowed`,
		`hide_in_deployment_modes.0 must be one of the following: "agentless"`,
	},
	"bad_deployment_mode_without_identities": {
		`deployment_modes.agentless: organization is required`,
		`agentless: division is required`,
		`agentless: team is required`,
	},
	"bad_deprecation_description": {
		`field deprecated.description: Invalid type. Expected: string, given: null`,
	},
	"bad_discovery_fields": {
		`discovery.fields.0.name: Invalid type`,
		`discovery.datasets.0.name: Invalid type`,
		`name is required`,
		`Additional property (value|foo) is not allowed`,
	},
	"bad_duplicated_fields": {
		`field "event.dataset" is defined multiple times for data stream "wrong", found in: .*base-fields.yml, .*ecs.yml`,
		`field "field1" is defined multiple times for transform "good_example_abc_1"`,
	},
	"bad_duration_vars": {
		`field vars.1: Must not be present`,
		`field vars.2: Must not be present`,
	},
	"bad_esql_view_content": {
		`esql_view/view.yml" is invalid: field query: Invalid type. Expected: string, given: null`,
	},
	"bad_external_without_dev_build": {
		`field container.id with external key defined \("ecs"\) but no _dev/build/build.yml found`,
	},
	"bad_group_unit": {
		`field "aaa.bbb" can\'t have unit property`,
		`field "ddd.eee" can\'t have unit property`,
		`field "fff" can\'t have metric type property`,
	},
	"bad_input_both_template_path": {
		`field policy_templates.0: Must not be present`,
		`policy template "sample" references template_path "input.yml.hbs": template file not found`,
	},
	"bad_input_deployment_modes": {
		`inputs.0.deployment_modes.0: \S+ must be one of the following`,
		`inputs.1.deployment_modes: Array must have at least 1 items`,
		`inputs.2.deployment_modes: array items\[0,1\] must be unique`,
		`input "test/metrics" .*unsupported deployment mode "invalid_mode"`,
		`input "test/system" .*"agentless"`,
		`policy template "unsupported_modes" enables deployment mode "default" but no input supports this mode`,
	},
	"bad_input_dynamic_signal_types_non_otel": {
		`policy template "sample": dynamic_signal_types is only allowed when input is \'otelcol\', got \'logfile\'`,
	},
	"bad_input_fleet_reserved_vars": {
		`package root vars: variable "data_stream.dataset" must only be declared at stream level`,
		`policy template "sample": variable "use_apm" must be type "bool", got "text"`,
		`variable "data_stream.dataset" must be type "text", got "bool"`,
	},
	"bad_input_hbs": {
		`invalid handlebars template: error validating \S+: Parse error on line \d+:\s*Expecting OpenEndBlock, got: \'EOF\'`,
	},
	"bad_input_profiles_non_otel": {
		`field policy_templates.0.input: policy_templates.0.input must be one of the following: "otelcol"`,
	},
	"bad_input_qualifier_old_version": {
		`inputs.0.type: Must not be present`,
		`inputs.0: Additional property name is not allowed`,
	},
	"bad_integration_dataset_vars": {
		`field vars.data_stream.dataset: Does not match pattern`,
		`field data_stream.vars.data_stream.dataset: Does not match pattern`,
	},
	"bad_integration_dynamic_signal_types_non_otel": {
		`policy template "sample": input type "logfile": dynamic_signal_types is only allowed when input is \'otelcol\'`,
	},
	"bad_integration_group": {
		`field group: Does not match pattern \'\^\[a-z0-9_\]\+\$\'`,
	},
	// The link target (../bad_integration_hbs/...) is not shipped in the
	// fixture archive, so the invalid template cannot be read: the package is
	// refused because its linked file cannot be resolved.
	"bad_integration_hbs_linked": {
		`linked file filestream.yml.hbs.link: target \S+ cannot be read|Expecting OpenEndBlock`,
	},
	"bad_integration_otel_old_version": {
		`field policy_templates.0.inputs.0.type: Must not be present`,
	},
	"bad_integration_stream_template_path_default": {
		`data stream "data_stream/datasets" stream input "logfile": template file not found`,
	},
	"bad_kibana_tag_duplicate": {
		`tag name \'Security Solution\' is already defined in tags.yml \(SVR00007\)`,
	},
	"bad_migrate_from": {
		`field policy_templates.0.inputs.0: Additional property migrate_from is not allowed`,
	},
	"bad_nested_knowledge_base": {
		`item \[nested_dir\] is not allowed in folder`,
		`item \[file.txt\] is not allowed in folder`,
	},
	"bad_owner_type_missing": {
		`field owner: type is required`,
	},
	"bad_package_not_in_requires": {
		`policy_templates\[0\].inputs\[0\] references package "missing_package" which is not listed in requires section`,
	},
	"bad_pipeline_tags": {
		`set processor at line 4 missing required tag \(SVR00006\)`,
		`set processor at line 15 has duplicate tag value: "set_sample_field"`,
	},
	"bad_policy_ignore_fields": {
		`field system: Additional property ignore_fields is not allowed`,
	},
	"bad_profiling_symbolizer": {
		`profiles data type cannot be used in GA packages`,
	},
	"bad_provider_permissions_extra_field": {
		`permissions.0: Additional property resources is not allowed`,
	},
	"bad_readme_structure": {
		`missing required section 'Overview' in file 'README_part1.md'`,
		`missing required section 'How do I deploy this integration\?' in file 'README_part2.md'`,
	},
	"bad_required_vars": {
		`field policy_templates.0.inputs.0.required_vars.password.1: name is required`,
		`required var "api_key" in optional group is defined as always required`,
		`required var "password" in optional group is not defined`,
	},
	"bad_requires": {
		`field requires.content.0.package: Does not match pattern`,
		`field requires.input.0: version is required`,
		`field requires.input.1.version: version "\^1.0.0" for package "filelog_otel" must be a valid semantic version, constraints are not allowed`,
	},
	"bad_routing_rules": {
		`routing rules defined in data stream "rules" but dataset field is missing`,
	},
	"bad_routing_rules_missing_target_dataset": {
		`field 0.rules.0: target_dataset is required`,
	},
	"bad_rule_ids": {
		`kibana object ID \[saved_object_id\] should start with rule ID \[rule_id\]`,
	},
	"bad_saved_object_tags": {
		`field 0.asset_types.1[12]: \S+ must be one of the following`,
		`field 1.asset_ids.1: Invalid type. Expected: string, given: integer`,
		`field 2: text is required`,
		`field 3: asset_types is required`,
	},
	"bad_secret_vars": {
		`field vars.0: Additional property secret is not allowed`,
	},
	"bad_sections_duplicate_name": {
		`duplicate section name "auth_section" in package root`,
	},
	"bad_select": {
		`field streams.0.vars.1: options is required`,
		`field streams.0.vars.3: Must not be present`,
	},
	"bad_test_requires": {
		`policy.requires\[0\] references package "missing_package" which is not listed in manifest requires section`,
		`system.requires\[0\] package "sql_input" version "1.5.0" does not satisfy constraint "2.0.0"`,
	},
	"bad_var_groups_missing_var": {
		`var "non_existent_var" referenced in var_group "credential_type" option "direct_access_key" is not defined`,
	},
	"bad_var_groups_required_var_in_required_group": {
		`var "access_key_id" in required var_group "credential_type" should not have required: true \(requirement is inferred from var_group\)`,
	},
	"bad_var_migrate_from_scope": {
		`migrate_from.scope must be one of the following: "input", "stream"`,
	},
	"deploy_custom_agent_invalid_property": {
		`custom-agent.yml" is invalid: field services.docker-custom-agent: Must not be present`,
	},
	"httpjson_input": {
		`conditions.kibana.version must be \^8.8.0 or greater for non experimental input packages \(version > 1.0.0\)`,
	},
	"input_groups_bad_data_stream": {
		`field policy_templates.2.data_streams.1: data stream doesn\'t exist`,
	},
	"kibana_legacy_visualizations": {
		`"Dashboard with mixed by-value visualizations" contains legacy visualization: "[^"]*" \(\S+, TSVB\)`,
		`contains legacy visualization: "[^"]*" \(\S+, Aggs-based\)`,
		`contains legacy visualization: "[^"]*" \(\S+, Timelion\)`,
	},
	"missing_pipeline_dashes": {
		`data_stream/foo/elasticsearch/ingest_pipeline/default.yml" is invalid: document dashes are required`,
	},
	"missing_required_fields_input": {
		`expected type "constant_keyword" for required field "data_stream.dataset", found "keyword"`,
		`expected field "data_stream.type" with type "constant_keyword" not found`,
	},
	"no_manifest": {
		`no package manifest file found`,
	},
	"same_version_twice": {
		`versions in changelog must be unique, found at least two same versions \(0.0.2\)`,
	},
	"visualizations_by_reference": {
		`references found in dashboard kibana/dashboard/\S+-82273ffe-\S+.json: \S+-5e1a01ff-\S+ \(visualization\), \S+-8287a5d5-\S+ \(lens\) \(SVR00004\)`,
	},
}

// TestConcurrentValidation runs validations in parallel (as the publishing
// job may) and checks they agree with a sequential run.
func TestConcurrentValidation(t *testing.T) {
	root := filepath.Join(extractShared(t, "spec-fixtures.tar.gz"), "invalid")
	names := []string{"bad_select", "bad_owner_type_missing", "bad_requires", "bad_group_unit"}
	want := map[string]int{}
	for _, n := range names {
		want[n] = len(validateDir(t, filepath.Join(root, n), Options{}))
	}
	errs := make(chan string, len(names)*4)
	done := make(chan struct{})
	for i := 0; i < 4; i++ {
		for _, n := range names {
			go func(n string) {
				defer func() { done <- struct{}{} }()
				dir := filepath.Join(root, n)
				probs, err := Package(context.Background(), os.DirFS(dir), Options{Dir: dir})
				if err != nil || len(probs) != want[n] {
					errs <- fmt.Sprintf("%s: %d problems (want %d), err %v", n, len(probs), want[n], err)
				}
			}(n)
		}
	}
	for i := 0; i < 4*len(names); i++ {
		<-done
	}
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
