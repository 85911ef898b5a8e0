package packagedoc

import "encoding/json"

// BasePackage is the summary of a revision that /search returns. Field order
// is EPR's key order (epr-api.md §2.9); the JSON keys of the full document
// are a superset, so a full document decodes into a BasePackage directly.
type BasePackage struct {
	Name                    string               `json:"name"`
	Title                   string               `json:"title,omitempty"`
	Version                 string               `json:"version"`
	Release                 string               `json:"release,omitempty"`
	Source                  *Source              `json:"source,omitempty"`
	Description             string               `json:"description"`
	Type                    string               `json:"type"`
	Download                string               `json:"download"`
	Path                    string               `json:"path"`
	Icons                   []Image              `json:"icons,omitempty"`
	PolicyTemplatesBehavior string               `json:"policy_templates_behavior,omitempty"`
	BasePolicyTemplates     []BasePolicyTemplate `json:"policy_templates,omitempty"`
	Conditions              *Conditions          `json:"conditions,omitempty"`
	Owner                   *Owner               `json:"owner,omitempty"`
	Categories              []string             `json:"categories,omitempty"`
	SignaturePath           string               `json:"signature_path,omitempty"`
	Discovery               *Discovery           `json:"discovery,omitempty"`
	BaseDataStreams         []BaseDataStream     `json:"data_streams,omitempty"`
	Deprecated              *Deprecated          `json:"deprecated,omitempty"`
	Requires                *Requires            `json:"requires,omitempty"`
	Group                   string               `json:"group,omitempty"`
}

// Package is the full document served at /package/N/V/ and stored in the
// index as package_manifest. The outer PolicyTemplates and DataStreams
// shadow the base forms, as in EPR, so the base keys keep their place and
// the full-only keys follow.
type Package struct {
	BasePackage
	FormatVersion   string           `json:"format_version"`
	Readme          string           `json:"readme,omitempty"`
	License         string           `json:"license,omitempty"`
	Screenshots     []Image          `json:"screenshots,omitempty"`
	Assets          []string         `json:"assets,omitempty"`
	PolicyTemplates []PolicyTemplate `json:"policy_templates,omitempty"`
	DataStreams     []DataStream     `json:"data_streams,omitempty"`
	Vars            []Variable       `json:"vars,omitempty"`
	Elasticsearch   *Privileges      `json:"elasticsearch,omitempty"`
	Agent           *Privileges      `json:"agent,omitempty"`
}

// Source carries the package's source license.
type Source struct {
	License string `json:"license,omitempty"`
}

// Image is an icon or screenshot; Path is derived from Src.
type Image struct {
	Src   string `json:"src"`
	Path  string `json:"path"`
	Title string `json:"title,omitempty"`
	Size  string `json:"size,omitempty"`
	Type  string `json:"type,omitempty"`
}

// Conditions of a package.
type Conditions struct {
	Kibana  *VersionCondition  `json:"kibana,omitempty"`
	Elastic *ElasticConditions `json:"elastic,omitempty"`
	Agent   *VersionCondition  `json:"agent,omitempty"`
}

// VersionCondition is a semver constraint on Kibana or the agent.
type VersionCondition struct {
	Version string `json:"version,omitempty"`
}

// ElasticConditions are subscription and capability requirements.
// Subscription is always emitted when the block exists (EPR does).
type ElasticConditions struct {
	Subscription string   `json:"subscription"`
	Capabilities []string `json:"capabilities,omitempty"`
}

// Owner of a package.
type Owner struct {
	Type   string `json:"type,omitempty"`
	Github string `json:"github,omitempty"`
}

// Discovery lists what a content package can discover. A block with no
// fields and no datasets is dropped by Build (EPR omits it).
type Discovery struct {
	Fields   []DiscoveryItem `json:"fields,omitempty"`
	Datasets []DiscoveryItem `json:"datasets,omitempty"`
}

// DiscoveryItem is one discovery field or dataset name.
type DiscoveryItem struct {
	Name string `json:"name"`
}

// Requires lists the packages this one depends on.
type Requires struct {
	Input   []PackageRef `json:"input,omitempty"`
	Content []PackageRef `json:"content,omitempty"`
}

// PackageRef names a required package and version.
type PackageRef struct {
	Package string `json:"package"`
	Version string `json:"version,omitempty"`
}

// Deprecated is a deprecation notice; since and description are always
// emitted, even empty (EPR does).
type Deprecated struct {
	Since       string      `json:"since"`
	Description string      `json:"description"`
	ReplacedBy  *ReplacedBy `json:"replaced_by,omitempty"`
}

// ReplacedBy says what replaces a deprecated element.
type ReplacedBy struct {
	Package        string `json:"package,omitempty"`
	PolicyTemplate string `json:"policy_template,omitempty"`
	Input          string `json:"input,omitempty"`
	DataStream     string `json:"data_stream,omitempty"`
	Variable       string `json:"variable,omitempty"`
}

// BasePolicyTemplate is the /search form of a policy template.
type BasePolicyTemplate struct {
	Name            string          `json:"name"`
	Title           string          `json:"title"`
	Description     string          `json:"description"`
	Icons           []Image         `json:"icons,omitempty"`
	Categories      []string        `json:"categories,omitempty"`
	DeploymentModes json.RawMessage `json:"deployment_modes,omitempty"`
	DataStreams     []string        `json:"data_streams,omitempty"`
	Deprecated      *Deprecated     `json:"deprecated,omitempty"`
}

// PolicyTemplate is the full form of a policy template.
type PolicyTemplate struct {
	Name            string          `json:"name"`
	Title           string          `json:"title"`
	Description     string          `json:"description"`
	DataStreams     []string        `json:"data_streams,omitempty"`
	Inputs          []Input         `json:"inputs,omitempty"`
	Multiple        *bool           `json:"multiple,omitempty"`
	Icons           []Image         `json:"icons,omitempty"`
	Categories      []string        `json:"categories,omitempty"`
	Screenshots     []Image         `json:"screenshots,omitempty"`
	Readme          string          `json:"readme,omitempty"`
	DeploymentModes json.RawMessage `json:"deployment_modes,omitempty"`
	Type            string          `json:"type,omitempty"`
	Input           string          `json:"input,omitempty"`
	IngestionMethod string          `json:"ingestion_method,omitempty"`
	TemplatePath    string          `json:"template_path,omitempty"`
	Vars            []Variable      `json:"vars,omitempty"`
	Deprecated      *Deprecated     `json:"deprecated,omitempty"`
}

// Input is a policy-template input.
type Input struct {
	Type                  string          `json:"type,omitempty"`
	Package               string          `json:"package,omitempty"`
	Vars                  []Variable      `json:"vars,omitempty"`
	Title                 string          `json:"title,omitempty"`
	Description           string          `json:"description,omitempty"`
	InputGroup            string          `json:"input_group,omitempty"`
	TemplatePath          string          `json:"template_path,omitempty"`
	Multi                 bool            `json:"multi,omitempty"`
	DeploymentModes       json.RawMessage `json:"deployment_modes,omitempty"`
	HideInDeploymentModes json.RawMessage `json:"hide_in_deployment_modes,omitempty"`
	Deprecated            *Deprecated     `json:"deprecated,omitempty"`
}

// BaseDataStream is the /search form of a data stream.
type BaseDataStream struct {
	Type       string      `json:"type,omitempty"`
	Dataset    string      `json:"dataset"`
	Title      string      `json:"title"`
	Deprecated *Deprecated `json:"deprecated,omitempty"`
}

// DataStream is the full form of a data stream.
type DataStream struct {
	Type            string          `json:"type,omitempty"`
	Dataset         string          `json:"dataset"`
	Hidden          bool            `json:"hidden,omitempty"`
	IlmPolicy       string          `json:"ilm_policy,omitempty"`
	DatasetIsPrefix bool            `json:"dataset_is_prefix,omitempty"`
	Title           string          `json:"title"`
	Release         string          `json:"release,omitempty"`
	IngestPipeline  string          `json:"ingest_pipeline,omitempty"`
	Streams         []Stream        `json:"streams,omitempty"`
	Package         string          `json:"package,omitempty"`
	Elasticsearch   json.RawMessage `json:"elasticsearch,omitempty"`
	Agent           json.RawMessage `json:"agent,omitempty"`
	Path            string          `json:"path"`
	Deprecated      *Deprecated     `json:"deprecated,omitempty"`
}

// Stream is one stream of a data stream.
type Stream struct {
	Input           string      `json:"input,omitempty"`
	Package         string      `json:"package,omitempty"`
	Vars            []Variable  `json:"vars,omitempty"`
	Dataset         string      `json:"dataset,omitempty"`
	TemplatePath    string      `json:"template_path,omitempty"`
	Title           string      `json:"title,omitempty"`
	Description     string      `json:"description,omitempty"`
	Enabled         *bool       `json:"enabled,omitempty"`
	IngestionMethod string      `json:"ingestion_method,omitempty"`
	Deprecated      *Deprecated `json:"deprecated,omitempty"`
}

// Variable is a configuration variable of a package, template, input or stream.
type Variable struct {
	Name        string          `json:"name"`
	Type        string          `json:"type"`
	Title       string          `json:"title,omitempty"`
	Description string          `json:"description,omitempty"`
	Multi       bool            `json:"multi"`
	Required    bool            `json:"required"`
	ShowUser    bool            `json:"show_user"`
	Default     json.RawMessage `json:"default,omitempty"`
	Deprecated  *Deprecated     `json:"deprecated,omitempty"`
}

// Privileges holds the package-level elasticsearch or agent privileges,
// passed through in manifest order.
type Privileges struct {
	Privileges json.RawMessage `json:"privileges,omitempty"`
}
