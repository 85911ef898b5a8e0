package packagedoc

// The types below are EPR 1.40.1's package document, field for field: the
// field order is the JSON key order, the json tags (names, omitempty) are
// EPR's, and the Go types are EPR's (a pointer where EPR has one, so that
// "present but empty" survives; maps where EPR has maps, so that free-form
// blocks come out with sorted keys). The config tags say where the manifest
// value comes from, read the way EPR's go-ucfg loader reads it (see
// ucfg.go): a dotted name is a path, and only the keys named here are read;
// everything else in a manifest is dropped. Every field has one: where EPR's
// struct has no config tag, ucfg reads the lower-cased field name
// (a manifest's "data_streams" list is read, and "basepolicytemplates"),
// and Build then overwrites or appends exactly where EPR does. Do not add
// fields EPR does not have: the document is compared byte for byte with
// EPR's.

// BasePackage is the summary of a revision that /search returns. The full
// document's JSON keys are a superset, so a full document decodes into a
// BasePackage directly.
type BasePackage struct {
	Name                    string               `config:"name" json:"name"`
	Title                   *string              `config:"title" json:"title,omitempty"`
	Version                 string               `config:"version" json:"version"`
	Release                 string               `config:"release" json:"release,omitempty"`
	Source                  *Source              `config:"source" json:"source,omitempty"`
	Description             string               `config:"description" json:"description"`
	Type                    string               `config:"type" json:"type"`
	Download                string               `config:"download" json:"download"`
	Path                    string               `config:"path" json:"path"`
	Icons                   []Image              `config:"icons" json:"icons,omitempty"`
	PolicyTemplatesBehavior string               `config:"policy_templates_behavior" json:"policy_templates_behavior,omitempty"`
	BasePolicyTemplates     []BasePolicyTemplate `config:"basepolicytemplates" json:"policy_templates,omitempty"`
	Conditions              *Conditions          `config:"conditions" json:"conditions,omitempty"`
	Owner                   *Owner               `config:"owner" json:"owner,omitempty"`
	Categories              []string             `config:"categories" json:"categories,omitempty"`
	SignaturePath           string               `config:"signature_path" json:"signature_path,omitempty"`
	Discovery               *Discovery           `config:"discovery" json:"discovery,omitempty,omitzero"`
	BaseDataStreams         []*BaseDataStream    `config:"data_streams" json:"data_streams,omitempty"`
	Deprecated              *Deprecated          `config:"deprecated" json:"deprecated,omitempty"`
	Requires                *Requires            `config:"requires" json:"requires,omitempty"`
	Group                   string               `config:"group" json:"group,omitempty"`
}

// Package is the full document served at /package/N/V/ and stored in the
// index as package_manifest. The outer PolicyTemplates and DataStreams
// shadow the base forms, as in EPR.
type Package struct {
	BasePackage     `config:",inline"`
	FormatVersion   string                `config:"format_version" json:"format_version"`
	Readme          *string               `config:"readme" json:"readme,omitempty"`
	License         string                `config:"license" json:"license,omitempty"`
	Screenshots     []Image               `config:"screenshots" json:"screenshots,omitempty"`
	Assets          []string              `config:"assets" json:"assets,omitempty"`
	PolicyTemplates []PolicyTemplate      `config:"policy_templates" json:"policy_templates,omitempty"`
	DataStreams     []*DataStream         `config:"data_streams" json:"data_streams,omitempty"`
	Vars            []Variable            `config:"vars" json:"vars,omitempty"`
	Elasticsearch   *PackageElasticsearch `config:"elasticsearch" json:"elasticsearch,omitempty"`
	Agent           *PackageAgent         `config:"agent" json:"agent,omitempty"`
}

// Source carries the package's source license.
type Source struct {
	License string `config:"license" json:"license,omitempty"`
}

// Image is an icon or screenshot; Path is derived from Src.
type Image struct {
	Src   string `config:"src,required" json:"src"`
	Path  string `config:"path" json:"path"`
	Title string `config:"title" json:"title,omitempty"`
	Size  string `config:"size" json:"size,omitempty"`
	Type  string `config:"type" json:"type,omitempty"`
}

// Conditions of a package.
type Conditions struct {
	Kibana  *VersionCondition  `config:"kibana" json:"kibana,omitempty"`
	Elastic *ElasticConditions `config:"elastic" json:"elastic,omitempty"`
	Agent   *VersionCondition  `config:"agent" json:"agent,omitempty"`
}

// VersionCondition is a semver constraint on Kibana or the agent; the
// version is emitted even when empty (EPR does).
type VersionCondition struct {
	Version string `config:"version" json:"version"`
}

// ElasticConditions are subscription and capability requirements.
type ElasticConditions struct {
	Subscription string   `config:"subscription" json:"subscription"`
	Capabilities []string `config:"capabilities" json:"capabilities,omitempty"`
}

// Owner of a package.
type Owner struct {
	Type   string `config:"type" json:"type,omitempty"`
	Github string `config:"github" json:"github,omitempty"`
}

// Discovery lists what a package can discover; an empty block is omitted.
type Discovery struct {
	Fields   []DiscoveryItem `config:"fields" json:"fields,omitempty"`
	Datasets []DiscoveryItem `config:"datasets" json:"datasets,omitempty"`
}

// IsZero makes omitzero drop a discovery block without entries, as EPR.
func (d *Discovery) IsZero() bool { return d == nil || len(d.Fields) == 0 && len(d.Datasets) == 0 }

// DiscoveryItem is one discovery field or dataset name.
type DiscoveryItem struct {
	Name string `config:"name,required" json:"name"`
}

// Requires lists the packages this one depends on.
type Requires struct {
	Input   []PackageRef `config:"input" json:"input,omitempty"`
	Content []PackageRef `config:"content" json:"content,omitempty"`
}

// PackageRef names a required package and version.
type PackageRef struct {
	Package string `config:"package,required" json:"package"`
	Version string `config:"version,required" json:"version"`
}

// Deprecated is a deprecation notice.
type Deprecated struct {
	Since       string      `config:"since" json:"since"`
	Description string      `config:"description" json:"description"`
	ReplacedBy  *ReplacedBy `config:"replaced_by" json:"replaced_by,omitempty"`
}

// ReplacedBy says what replaces a deprecated element.
type ReplacedBy struct {
	Package        string `config:"package" json:"package,omitempty"`
	PolicyTemplate string `config:"policy_template" json:"policy_template,omitempty"`
	Input          string `config:"input" json:"input,omitempty"`
	DataStream     string `config:"data_stream" json:"data_stream,omitempty"`
	Variable       string `config:"variable" json:"variable,omitempty"`
}

// BasePolicyTemplate is the /search form of a policy template.
type BasePolicyTemplate struct {
	Name            string           `config:"name,required" json:"name"`
	Title           string           `config:"title,required" json:"title"`
	Description     string           `config:"description,required" json:"description"`
	Icons           []Image          `config:"icons" json:"icons,omitempty"`
	Categories      []string         `config:"categories" json:"categories,omitempty"`
	DeploymentModes *DeploymentModes `config:"deployment_modes" json:"deployment_modes,omitempty"`
	DataStreams     []string         `config:"data_streams" json:"data_streams,omitempty"`
	Deprecated      *Deprecated      `config:"deprecated" json:"deprecated,omitempty"`
}

// PolicyTemplate is the full form of a policy template.
type PolicyTemplate struct {
	Name            string           `config:"name,required" json:"name"`
	Title           string           `config:"title,required" json:"title"`
	Description     string           `config:"description,required" json:"description"`
	DataStreams     []string         `config:"data_streams" json:"data_streams,omitempty"`
	Inputs          []Input          `config:"inputs" json:"inputs,omitempty"`
	Multiple        *bool            `config:"multiple" json:"multiple,omitempty"`
	Icons           []Image          `config:"icons" json:"icons,omitempty"`
	Categories      []string         `config:"categories" json:"categories,omitempty"`
	Screenshots     []Image          `config:"screenshots" json:"screenshots,omitempty"`
	Readme          *string          `config:"readme" json:"readme,omitempty"`
	DeploymentModes *DeploymentModes `config:"deployment_modes" json:"deployment_modes,omitempty"`
	Type            string           `config:"type" json:"type,omitempty"`
	Input           string           `config:"input" json:"input,omitempty"`
	IngestionMethod string           `config:"ingestion_method" json:"ingestion_method,omitempty"`
	TemplatePath    string           `config:"template_path" json:"template_path,omitempty"`
	Deprecated      *Deprecated      `config:"deprecated" json:"deprecated,omitempty"`
}

// DeploymentModes of a policy template.
type DeploymentModes struct {
	Default   *DefaultDeploymentMode   `config:"default" json:"default,omitempty"`
	Agentless *AgentlessDeploymentMode `config:"agentless" json:"agentless,omitempty"`
}

// DefaultDeploymentMode is the agent-based deployment mode.
type DefaultDeploymentMode struct {
	Enabled bool `config:"enabled,required" json:"enabled"`
}

// AgentlessDeploymentMode is the agentless deployment mode.
type AgentlessDeploymentMode struct {
	Enabled   bool   `config:"enabled,required" json:"enabled"`
	IsDefault *bool  `config:"is_default" json:"is_default,omitempty"`
	Release   string `config:"release" json:"release,omitempty"`
}

// Input is a policy-template input.
type Input struct {
	Type            string      `config:"type" json:"type,omitempty"`
	Package         string      `config:"package" json:"package,omitempty"`
	Vars            []Variable  `config:"vars" json:"vars,omitempty"`
	Title           string      `config:"title" json:"title,omitempty"`
	Description     string      `config:"description" json:"description,omitempty"`
	Streams         []Stream    `config:"streams" json:"streams,omitempty"`
	TemplatePath    string      `config:"template_path" json:"template_path,omitempty"`
	InputGroup      string      `config:"input_group" json:"input_group,omitempty"`
	DeploymentModes []string    `config:"deployment_modes" json:"deployment_modes,omitempty"`
	Deprecated      *Deprecated `config:"deprecated" json:"deprecated,omitempty"`
}

// BaseDataStream is the /search form of a data stream.
type BaseDataStream struct {
	Type       string      `config:"type" json:"type,omitempty"`
	Dataset    string      `config:"dataset,required" json:"dataset"`
	Title      string      `config:"title,required" json:"title"`
	Deprecated *Deprecated `config:"deprecated" json:"deprecated,omitempty"`
}

// DataStream is the full form of a data stream.
type DataStream struct {
	Type            string                   `config:"type,required" json:"type"`
	Dataset         string                   `config:"dataset" json:"dataset,omitempty"`
	Hidden          bool                     `config:"hidden" json:"hidden,omitempty"`
	IlmPolicy       string                   `config:"ilm_policy" json:"ilm_policy,omitempty"`
	DatasetIsPrefix bool                     `config:"dataset_is_prefix" json:"dataset_is_prefix,omitempty"`
	Title           string                   `config:"title,required" json:"title"`
	Release         string                   `config:"release" json:"release,omitempty"`
	IngestPipeline  string                   `config:"ingest_pipeline" json:"ingest_pipeline,omitempty"`
	Streams         []Stream                 `config:"streams" json:"streams,omitempty"`
	Package         string                   `config:"package" json:"package,omitempty"`
	Elasticsearch   *DataStreamElasticsearch `config:"elasticsearch" json:"elasticsearch,omitempty"`
	Agent           *DataStreamAgent         `config:"agent" json:"agent,omitempty"`
	Path            string                   `config:"path" json:"path,omitempty"`
	Deprecated      *Deprecated              `config:"deprecated" json:"deprecated,omitempty"`
}

// DataStreamElasticsearch is a data stream's elasticsearch block: the key
// names contain the dot literally, whatever nesting the manifest used.
type DataStreamElasticsearch struct {
	IndexTemplateSettings map[string]any        `config:"index_template.settings" json:"index_template.settings,omitempty"`
	IndexTemplateMappings map[string]any        `config:"index_template.mappings" json:"index_template.mappings,omitempty"`
	IngestPipelineName    string                `config:"ingest_pipeline.name" json:"ingest_pipeline.name,omitempty"`
	Privileges            *DataStreamPrivileges `config:"privileges" json:"privileges,omitempty"`
}

// DataStreamPrivileges are the index privileges a data stream needs.
type DataStreamPrivileges struct {
	Indices []string `config:"indices" json:"indices,omitempty"`
}

// DataStreamAgent is a data stream's agent block.
type DataStreamAgent struct {
	Privileges *AgentPrivileges `config:"privileges" json:"privileges,omitempty"`
}

// PackageAgent is a package's agent block.
type PackageAgent struct {
	Privileges *AgentPrivileges `config:"privileges" json:"privileges,omitempty"`
}

// AgentPrivileges say whether the agent must run as root.
type AgentPrivileges struct {
	Root bool `config:"root" json:"root,omitempty"`
}

// PackageElasticsearch is a package's elasticsearch block.
type PackageElasticsearch struct {
	Privileges *ClusterPrivileges `config:"privileges" json:"privileges,omitempty"`
}

// ClusterPrivileges are the cluster privileges a package needs.
type ClusterPrivileges struct {
	Cluster []string `config:"cluster" json:"cluster,omitempty"`
}

// Stream is one stream of a data stream or input.
type Stream struct {
	Input           string     `config:"input" json:"input,omitempty"`
	Package         string     `config:"package" json:"package,omitempty"`
	Vars            []Variable `config:"vars" json:"vars,omitempty"`
	DataStream      string     `config:"data_stream" json:"data_stream,omitempty"`
	TemplatePath    string     `config:"template_path" json:"template_path,omitempty"`
	Title           string     `config:"title" json:"title,omitempty"`
	Description     string     `config:"description" json:"description,omitempty"`
	Enabled         *bool      `config:"enabled" json:"enabled,omitempty"`
	IngestionMethod string     `config:"ingestion_method" json:"ingestion_method,omitempty"`
}

// Variable is a configuration variable of a package, input or stream.
// Default is any YAML value, as EPR keeps it (maps come out sorted).
type Variable struct {
	Name        string      `config:"name" json:"name"`
	Type        string      `config:"type" json:"type"`
	Title       string      `config:"title" json:"title,omitempty"`
	Description string      `config:"description" json:"description,omitempty"`
	Multi       bool        `config:"multi" json:"multi"`
	Required    bool        `config:"required" json:"required"`
	ShowUser    bool        `config:"show_user" json:"show_user"`
	Default     any         `config:"default" json:"default,omitempty"`
	Deprecated  *Deprecated `config:"deprecated" json:"deprecated,omitempty"`
}
