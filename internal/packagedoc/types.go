package packagedoc

import (
	"bytes"
	"encoding/json"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// BasePackage is the summary of a revision that /search returns. Field order
// is EPR's key order (epr-api.md §2.9); the JSON keys of the full document
// are a superset, so a full document decodes into a BasePackage directly.
type BasePackage struct {
	Name                    string               `json:"name" yaml:"name"`
	Title                   string               `json:"title,omitempty" yaml:"title"`
	Version                 string               `json:"version" yaml:"version"`
	Release                 string               `json:"release,omitempty" yaml:"release"`
	Source                  *Source              `json:"source,omitempty" yaml:"source"`
	Description             string               `json:"description" yaml:"description"`
	Type                    string               `json:"type" yaml:"type"`
	Download                string               `json:"download" yaml:"download"`
	Path                    string               `json:"path" yaml:"path"`
	Icons                   []Image              `json:"icons,omitempty" yaml:"icons"`
	PolicyTemplatesBehavior string               `json:"policy_templates_behavior,omitempty" yaml:"policy_templates_behavior"`
	BasePolicyTemplates     []BasePolicyTemplate `json:"policy_templates,omitempty" yaml:"-"`
	Conditions              *Conditions          `json:"conditions,omitempty" yaml:"conditions"`
	Owner                   *Owner               `json:"owner,omitempty" yaml:"owner"`
	Categories              []string             `json:"categories,omitempty" yaml:"categories"`
	SignaturePath           string               `json:"signature_path,omitempty" yaml:"signature_path"`
	Discovery               *Discovery           `json:"discovery,omitempty" yaml:"discovery"`
	BaseDataStreams         []BaseDataStream     `json:"data_streams,omitempty" yaml:"-"`
	Deprecated              *Deprecated          `json:"deprecated,omitempty" yaml:"deprecated"`
	Requires                *Requires            `json:"requires,omitempty" yaml:"requires"`
	Group                   string               `json:"group,omitempty" yaml:"group"`
}

// Package is the full document served at /package/N/V/ and stored in the
// index as package_manifest. The outer PolicyTemplates and DataStreams
// shadow the base forms, as in EPR, so the base keys keep their place and
// the full-only keys follow.
type Package struct {
	BasePackage     `yaml:",inline"`
	FormatVersion   string           `json:"format_version" yaml:"format_version"`
	Readme          string           `json:"readme,omitempty" yaml:"readme"`
	License         string           `json:"license,omitempty" yaml:"license"`
	Screenshots     []Image          `json:"screenshots,omitempty" yaml:"screenshots"`
	Assets          []string         `json:"assets,omitempty" yaml:"assets"`
	PolicyTemplates []PolicyTemplate `json:"policy_templates,omitempty" yaml:"policy_templates"`
	DataStreams     []DataStream     `json:"data_streams,omitempty" yaml:"data_streams"`
	Vars            []Variable       `json:"vars,omitempty" yaml:"vars"`
	Elasticsearch   *Privileges      `json:"elasticsearch,omitempty" yaml:"elasticsearch"`
	Agent           *Privileges      `json:"agent,omitempty" yaml:"agent"`
}

// Source carries the package's source license.
type Source struct {
	License string `json:"license,omitempty" yaml:"license"`
}

// Image is an icon or screenshot; Path is derived from Src.
type Image struct {
	Src   string `json:"src" yaml:"src"`
	Path  string `json:"path" yaml:"path"`
	Title string `json:"title,omitempty" yaml:"title"`
	Size  string `json:"size,omitempty" yaml:"size"`
	Type  string `json:"type,omitempty" yaml:"type"`
}

// Conditions of a package.
type Conditions struct {
	Kibana  *VersionCondition  `json:"kibana,omitempty" yaml:"kibana"`
	Elastic *ElasticConditions `json:"elastic,omitempty" yaml:"elastic"`
	Agent   *VersionCondition  `json:"agent,omitempty" yaml:"agent"`
}

// VersionCondition is a semver constraint on Kibana or the agent.
type VersionCondition struct {
	Version string `json:"version,omitempty" yaml:"version"`
}

// ElasticConditions are subscription and capability requirements.
// Subscription is always emitted when the block exists (EPR does).
type ElasticConditions struct {
	Subscription string   `json:"subscription" yaml:"subscription"`
	Capabilities []string `json:"capabilities,omitempty" yaml:"capabilities"`
}

// Owner of a package.
type Owner struct {
	Type   string `json:"type,omitempty" yaml:"type"`
	Github string `json:"github,omitempty" yaml:"github"`
}

// Discovery lists what a content package can discover. A block with no
// fields and no datasets is dropped by Build (EPR omits it).
type Discovery struct {
	Fields   []DiscoveryItem `json:"fields,omitempty" yaml:"fields"`
	Datasets []DiscoveryItem `json:"datasets,omitempty" yaml:"datasets"`
}

// DiscoveryItem is one discovery field or dataset name.
type DiscoveryItem struct {
	Name string `json:"name" yaml:"name"`
}

// Requires lists the packages this one depends on.
type Requires struct {
	Input   []PackageRef `json:"input,omitempty" yaml:"input"`
	Content []PackageRef `json:"content,omitempty" yaml:"content"`
}

// PackageRef names a required package and version.
type PackageRef struct {
	Package string `json:"package" yaml:"package"`
	Version string `json:"version,omitempty" yaml:"version"`
}

// Deprecated is a deprecation notice; since and description are always
// emitted, even empty (EPR does).
type Deprecated struct {
	Since       string      `json:"since" yaml:"since"`
	Description string      `json:"description" yaml:"description"`
	ReplacedBy  *ReplacedBy `json:"replaced_by,omitempty" yaml:"replaced_by"`
}

// ReplacedBy says what replaces a deprecated element.
type ReplacedBy struct {
	Package        string `json:"package,omitempty" yaml:"package"`
	PolicyTemplate string `json:"policy_template,omitempty" yaml:"policy_template"`
	Input          string `json:"input,omitempty" yaml:"input"`
	DataStream     string `json:"data_stream,omitempty" yaml:"data_stream"`
	Variable       string `json:"variable,omitempty" yaml:"variable"`
}

// BasePolicyTemplate is the /search form of a policy template.
type BasePolicyTemplate struct {
	Name            string      `json:"name" yaml:"name"`
	Title           string      `json:"title" yaml:"title"`
	Description     string      `json:"description" yaml:"description"`
	Icons           []Image     `json:"icons,omitempty" yaml:"icons"`
	Categories      []string    `json:"categories,omitempty" yaml:"categories"`
	DeploymentModes Raw         `json:"deployment_modes,omitempty" yaml:"deployment_modes"`
	DataStreams     []string    `json:"data_streams,omitempty" yaml:"data_streams"`
	Deprecated      *Deprecated `json:"deprecated,omitempty" yaml:"deprecated"`
}

// PolicyTemplate is the full form of a policy template.
type PolicyTemplate struct {
	Name            string      `json:"name" yaml:"name"`
	Title           string      `json:"title" yaml:"title"`
	Description     string      `json:"description" yaml:"description"`
	DataStreams     []string    `json:"data_streams,omitempty" yaml:"data_streams"`
	Inputs          []Input     `json:"inputs,omitempty" yaml:"inputs"`
	Multiple        *bool       `json:"multiple,omitempty" yaml:"multiple"`
	Icons           []Image     `json:"icons,omitempty" yaml:"icons"`
	Categories      []string    `json:"categories,omitempty" yaml:"categories"`
	Screenshots     []Image     `json:"screenshots,omitempty" yaml:"screenshots"`
	Readme          string      `json:"readme,omitempty" yaml:"readme"`
	DeploymentModes Raw         `json:"deployment_modes,omitempty" yaml:"deployment_modes"`
	Type            string      `json:"type,omitempty" yaml:"type"`
	Input           string      `json:"input,omitempty" yaml:"input"`
	IngestionMethod string      `json:"ingestion_method,omitempty" yaml:"ingestion_method"`
	TemplatePath    string      `json:"template_path,omitempty" yaml:"template_path"`
	Vars            []Variable  `json:"vars,omitempty" yaml:"vars"`
	Deprecated      *Deprecated `json:"deprecated,omitempty" yaml:"deprecated"`
}

// Input is a policy-template input.
type Input struct {
	Type                  string      `json:"type,omitempty" yaml:"type"`
	Package               string      `json:"package,omitempty" yaml:"package"`
	Vars                  []Variable  `json:"vars,omitempty" yaml:"vars"`
	Title                 string      `json:"title,omitempty" yaml:"title"`
	Description           string      `json:"description,omitempty" yaml:"description"`
	InputGroup            string      `json:"input_group,omitempty" yaml:"input_group"`
	TemplatePath          string      `json:"template_path,omitempty" yaml:"template_path"`
	Multi                 bool        `json:"multi,omitempty" yaml:"multi"`
	DeploymentModes       Raw         `json:"deployment_modes,omitempty" yaml:"deployment_modes"`
	HideInDeploymentModes Raw         `json:"hide_in_deployment_modes,omitempty" yaml:"hide_in_deployment_modes"`
	Deprecated            *Deprecated `json:"deprecated,omitempty" yaml:"deprecated"`
}

// BaseDataStream is the /search form of a data stream.
type BaseDataStream struct {
	Type       string      `json:"type,omitempty" yaml:"type"`
	Dataset    string      `json:"dataset" yaml:"dataset"`
	Title      string      `json:"title" yaml:"title"`
	Deprecated *Deprecated `json:"deprecated,omitempty" yaml:"deprecated"`
}

// DataStream is the full form of a data stream.
type DataStream struct {
	Type            string      `json:"type,omitempty" yaml:"type"`
	Dataset         string      `json:"dataset" yaml:"dataset"`
	Hidden          bool        `json:"hidden,omitempty" yaml:"hidden"`
	IlmPolicy       string      `json:"ilm_policy,omitempty" yaml:"ilm_policy"`
	DatasetIsPrefix bool        `json:"dataset_is_prefix,omitempty" yaml:"dataset_is_prefix"`
	Title           string      `json:"title" yaml:"title"`
	Release         string      `json:"release,omitempty" yaml:"release"`
	IngestPipeline  string      `json:"ingest_pipeline,omitempty" yaml:"ingest_pipeline"`
	Streams         []Stream    `json:"streams,omitempty" yaml:"streams"`
	Package         string      `json:"package,omitempty" yaml:"package"`
	Elasticsearch   Raw         `json:"elasticsearch,omitempty" yaml:"elasticsearch"`
	Agent           Raw         `json:"agent,omitempty" yaml:"agent"`
	Path            string      `json:"path" yaml:"path"`
	Deprecated      *Deprecated `json:"deprecated,omitempty" yaml:"deprecated"`
}

// Stream is one stream of a data stream.
type Stream struct {
	Input           string      `json:"input,omitempty" yaml:"input"`
	Package         string      `json:"package,omitempty" yaml:"package"`
	Vars            []Variable  `json:"vars,omitempty" yaml:"vars"`
	Dataset         string      `json:"dataset,omitempty" yaml:"dataset"`
	TemplatePath    string      `json:"template_path,omitempty" yaml:"template_path"`
	Title           string      `json:"title,omitempty" yaml:"title"`
	Description     string      `json:"description,omitempty" yaml:"description"`
	Enabled         *bool       `json:"enabled,omitempty" yaml:"enabled"`
	IngestionMethod string      `json:"ingestion_method,omitempty" yaml:"ingestion_method"`
	Deprecated      *Deprecated `json:"deprecated,omitempty" yaml:"deprecated"`
}

// Variable is a configuration variable of a package, template, input or stream.
type Variable struct {
	Name        string      `json:"name" yaml:"name"`
	Type        string      `json:"type" yaml:"type"`
	Title       string      `json:"title,omitempty" yaml:"title"`
	Description string      `json:"description,omitempty" yaml:"description"`
	Multi       bool        `json:"multi" yaml:"multi"`
	Required    bool        `json:"required" yaml:"required"`
	ShowUser    bool        `json:"show_user" yaml:"show_user"`
	Default     Raw         `json:"default,omitempty" yaml:"default"`
	Deprecated  *Deprecated `json:"deprecated,omitempty" yaml:"deprecated"`
}

// Privileges holds the package-level elasticsearch or agent privileges,
// passed through in manifest order.
type Privileges struct {
	Privileges Raw `json:"privileges,omitempty" yaml:"privileges"`
}

// Raw is JSON kept verbatim: manifest blocks this program passes through
// (deployment modes, privileges, variable defaults). Decoded from YAML it
// keeps the manifest's key order.
type Raw []byte

// MarshalJSON returns r itself.
func (r Raw) MarshalJSON() ([]byte, error) {
	if len(r) == 0 {
		return []byte("null"), nil
	}
	return r, nil
}

// UnmarshalJSON keeps a copy of data.
func (r *Raw) UnmarshalJSON(data []byte) error {
	*r = append((*r)[:0], data...)
	return nil
}

// UnmarshalYAML converts a YAML node to JSON in document order.
func (r *Raw) UnmarshalYAML(n *yaml.Node) error {
	var buf bytes.Buffer
	if err := yamlToJSON(&buf, n, 0); err != nil {
		return err
	}
	*r = buf.Bytes()
	return nil
}

// yamlToJSON writes n as compact JSON. Mapping order is kept; scalars keep
// their YAML type (int, float, bool, null, string).
func yamlToJSON(buf *bytes.Buffer, n *yaml.Node, depth int) error {
	if depth > 100 {
		return fmt.Errorf("line %d: nesting too deep", n.Line)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			buf.WriteString("null")
			return nil
		}
		return yamlToJSON(buf, n.Content[0], depth+1)
	case yaml.AliasNode:
		if n.Alias == nil {
			return fmt.Errorf("line %d: dangling alias", n.Line)
		}
		return yamlToJSON(buf, n.Alias, depth+1)
	case yaml.MappingNode:
		buf.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeJSONString(buf, n.Content[i].Value)
			buf.WriteByte(':')
			if err := yamlToJSON(buf, n.Content[i+1], depth+1); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case yaml.SequenceNode:
		buf.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := yamlToJSON(buf, c, depth+1); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return err
		}
		switch v.(type) {
		case nil, bool, int, int64, uint64, float64:
			b, err := json.Marshal(v)
			if err != nil { // NaN and infinities have no JSON form
				writeJSONString(buf, n.Value)
				return nil
			}
			buf.Write(b)
		default:
			writeJSONString(buf, n.Value)
		}
	default:
		return fmt.Errorf("line %d: unsupported YAML node", n.Line)
	}
	return nil
}

func writeJSONString(buf *bytes.Buffer, s string) {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	buf.Truncate(buf.Len() - 1) // Encode's newline
}
