package readme

// probePackages are source packages written for the differential test:
// they use every template function and the corner cases of each (groups,
// multi-fields, units, metric types, runtime fields, escaping, duplicates,
// HTML in sample events before and after format_version 2.12.0, ILM
// policies, transforms, alerting rule and SLO templates, links).
func probePackages() map[string]string {
	manifest := func(name, format string) string {
		return "format_version: " + format + "\nname: " + name + "\ntitle: Probe\nversion: 1.0.0\ndescription: Probe package.\ntype: integration\n" +
			"categories: [custom]\nconditions:\n  kibana:\n    version: ^8.0.0\npolicy_templates:\n  - name: probe\n    title: Probe\n    description: Probe.\n    inputs:\n      - type: logfile\n        title: Logs\n        description: Logs.\nowner:\n  github: elastic/integrations\n  type: elastic\n"
	}
	changelog := "- version: 1.0.0\n  changes:\n    - description: First.\n      type: enhancement\n      link: https://github.com/elastic/integrations/pull/1\n"
	dsManifest := "title: Logs\ntype: logs\nstreams:\n  - input: logfile\n    title: Logs\n    description: Logs.\n  - input: tcp\n    title: TCP\n    description: TCP.\n  - input: filestream\n    title: F\n    description: F.\n"
	fields := `- name: data_stream.type
  type: constant_keyword
  description: Data stream type.
- name: probe
  type: group
  description: The probe group.
  fields:
    - name: bytes
      type: long
      unit: byte
      metric_type: counter
      description: "Bytes *sent* to {host} <here>.\nSecond line."
    - name: empty
      type: group
      fields: []
    - name: nested.deep
      type: keyword
      multi_fields:
        - name: text
          type: match_only_text
    - name: obj
      type: object
      object_type: keyword
    - name: rt
      type: keyword
      runtime: true
    - name: rt_script
      type: long
      runtime: "emit(1)"
    - name: rt_off
      type: long
      runtime: false
    - name: num
      type: long
      description: 42
- name: probe.bytes
  type: long
  description: Duplicate, listed second.
- name: lonely_group
  type: group
- name: z.last
  type: keyword
`
	event := `{"@timestamp":"2024-01-01T00:00:00Z","message":"<b>bold</b> & more","n":1.50,"list":[1,2,{"a":"b"}]}`
	template := `{{- generatedHeader }}
# Probe

{{ url "elastic-main" }} and {{ url "elastic-main" "the guide" }}.

{{ fields "logs" }}
{{ fields "metrics_logs" }}
{{ fields }}
{{ fields "nonexistent" }}

{{ event "logs" }}
{{ event "metrics_logs" }}

{{ inputDocs }}
{{ ilm }}
{{ transform }}
{{ alertRuleTemplates }}
{{ sloTemplates }}
end
`
	ilm := `{"policy":{"phases":{"hot":{"min_age":"0ms","actions":{"rollover":{"max_age":"30d","max_primary_shard_size":"50gb","max_docs":1000000}}},"delete":{"min_age":"90d","actions":{"delete":{"delete_searchable_snapshot":true}}}},"_meta":{"managed":true,"tags":["a","b"]}}}`
	transform := "description: Latest hosts.\nsource:\n  index:\n    - \"logs-probe.logs-*\"\ndest:\n  index: \"probe_latest\"\nlatest:\n  unique_key: [host.name]\n  sort: \"@timestamp\"\n"
	alert := `{"id":"a1","type":"alerting_rule_template","attributes":{"name":"High <CPU> *usage*","description":"Fires when\nCPU is high."}}`
	alert2 := `{"id":"a2","type":"alerting_rule_template","attributes":{"name":"Another","description":"Second."}}`
	slo := `{"id":"s1","type":"slo_template","attributes":{"name":"Availability {99%}","description":"Requests < 400."}}`

	files := map[string]string{}
	for _, p := range []struct{ name, format string }{{"probe_new", "3.6.0"}, {"probe_old", "2.0.0"}} {
		base := p.name + "/"
		files[base+"manifest.yml"] = manifest(p.name, p.format)
		files[base+"changelog.yml"] = changelog
		files[base+"docs/README.md"] = "stale\n"
		files[base+"_dev/build/docs/README.md"] = template
		files[base+"_dev/build/docs/second.md"] = "Second {{ fields \"metrics_logs\" }}"
		files[base+"fields/package.yml"] = "- name: pkg.field\n  type: keyword\n  description: At the package level.\n"
		files[base+"data_stream/logs/manifest.yml"] = dsManifest
		files[base+"data_stream/logs/fields/a.yml"] = fields
		files[base+"data_stream/logs/fields/b.yml"] = "- name: a.first\n  type: keyword\n  description: From b.yml, sorted first.\n" +
			// fields as a mapping, as ECS writes them: names prefixed by the
			// parent's are nested, others go to the top.
			"- name: mapped\n  type: group\n  fields:\n    inner:\n      type: keyword\n      fields:\n        inner.x:\n          type: long\n        toplevel:\n          type: keyword\n    other:\n      type: ip\n"
		files[base+"data_stream/logs/sample_event.json"] = event
		files[base+"data_stream/logs/elasticsearch/ilm/default_policy.json"] = ilm
		files[base+"data_stream/metrics_logs/manifest.yml"] = "title: M\ntype: metrics\nstreams:\n  - input: udp\n    title: U\n    description: U.\n"
		files[base+"data_stream/metrics_logs/fields/f.yml"] = "- name: m.value\n  type: double\n  metric_type: gauge\n"
		files[base+"data_stream/metrics_logs/sample_event_b.json"] = `{"b": true}`
		files[base+"data_stream/metrics_logs/sample_event_a.json"] = "  {\"a\" : [ ] }\n\n"
		files[base+"elasticsearch/transform/latest/transform.yml"] = transform
		files[base+"elasticsearch/transform/latest/fields/fields.yml"] = "- name: host.name\n  type: keyword\n  description: Host *name*.\n"
		files[base+"elasticsearch/transform/b_first/transform.yml"] = "description: \"Sums *all* {x} <y>\"\nsource:\n  index: [\"a-*\", \"b-*\"]\ndest:\n  index: \"dest-*\"\n"
		files[base+"kibana/alerting_rule_template/a1.json"] = alert
		files[base+"kibana/alerting_rule_template/a2.json"] = alert2
		files[base+"kibana/slo_template/s1.json"] = slo
	}
	// External ECS fields: nested in groups, overridden, with
	// multi-fields, a field set as a group, and in a transform's fields.
	ecsFields := `- name: user
  type: group
  fields:
    - name: name
      external: ecs
    - name: id
      external: ecs
      description: Overridden description.
- name: event.dataset
  external: ecs
  type: constant_keyword
- name: host.ip
  external: ecs
  type: keyword
- name: email.attachments
  external: ecs
- name: agent
  external: ecs
- name: labels
  external: ecs
- name: message
  external: ecs
  unit: byte
- name: '@timestamp'
  external: ecs
`
	files["probe_ecs/manifest.yml"] = manifest("probe_ecs", "3.0.0")
	files["probe_ecs/changelog.yml"] = changelog
	files["probe_ecs/_dev/build/build.yml"] = "dependencies:\n  ecs:\n    reference: git@v8.11.0\n"
	files["probe_ecs/_dev/build/docs/README.md"] = "{{ fields \"logs\" }}\n{{ transform }}\n"
	files["probe_ecs/data_stream/logs/manifest.yml"] = dsManifest
	files["probe_ecs/data_stream/logs/fields/ecs.yml"] = ecsFields
	files["probe_ecs/elasticsearch/transform/t/transform.yml"] = transform
	files["probe_ecs/elasticsearch/transform/t/fields/ecs.yml"] = "- name: host.name\n  external: ecs\n- name: source.as.number\n  external: ecs\n"

	// Templates both tools must refuse.
	for name, tmpl := range map[string]string{
		"fail_url":   `{{ url "no-such-key" }}`,
		"fail_event": `{{ event "no_such_stream" }}`,
		"fail_parse": `{{ fields "logs" `,
		// An ECS reference that does not exist fails the fields table even
		// without external fields.
		"fail_ecs_ref": `{{ fields "logs" }}`,
	} {
		base := name + "/"
		files[base+"manifest.yml"] = manifest(name, "3.0.0")
		files[base+"changelog.yml"] = changelog
		files[base+"_dev/build/docs/README.md"] = tmpl
	}
	files["fail_ecs_ref/_dev/build/build.yml"] = "dependencies:\n  ecs:\n    reference: git@v0.0.0-nope\n"
	files["fail_ecs_ref/data_stream/logs/manifest.yml"] = dsManifest
	files["fail_ecs_ref/data_stream/logs/fields/a.yml"] = "- name: a\n  type: keyword\n"
	return files
}
