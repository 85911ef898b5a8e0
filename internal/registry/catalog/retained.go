package catalog

import (
	"strings"

	"pkgstore/internal/pkg/packagedoc"
)

// retained copies the fields of d that newRevision keeps (and only those:
// the rest is read only to render the /search form), so that a revision
// built from a document's structure (Parser.RevisionOf) holds no string
// of the manifest it came from: packagedoc's YAML reader makes every
// scalar a slice of one copy of the file, and a kept slice would keep the
// whole file for as long as the package is served.
func retained(d *docFields) docFields {
	c := strings.Clone
	k := docFields{FormatVersion: c(d.FormatVersion)}
	k.Name, k.Version, k.Release, k.Type = c(d.Name), c(d.Version), c(d.Release), c(d.Type)
	k.Categories = cloneAll(d.Categories)
	k.Deprecated = cloneDeprecated(d.Deprecated)
	if cd := d.Conditions; cd != nil {
		k.Conditions = &packagedoc.Conditions{}
		if cd.Kibana != nil {
			k.Conditions.Kibana = &packagedoc.VersionCondition{Version: c(cd.Kibana.Version)}
		}
		if cd.Agent != nil {
			k.Conditions.Agent = &packagedoc.VersionCondition{Version: c(cd.Agent.Version)}
		}
		if cd.Elastic != nil {
			k.Conditions.Elastic = &packagedoc.ElasticConditions{Subscription: c(cd.Elastic.Subscription), Capabilities: cloneAll(cd.Elastic.Capabilities)}
		}
	}
	for _, t := range d.BasePolicyTemplates {
		k.BasePolicyTemplates = append(k.BasePolicyTemplates, packagedoc.BasePolicyTemplate{Name: c(t.Name), Categories: cloneAll(t.Categories)})
	}
	if disc := d.Discovery; disc != nil {
		k.Discovery = &packagedoc.Discovery{}
		for _, f := range disc.Fields {
			k.Discovery.Fields = append(k.Discovery.Fields, packagedoc.DiscoveryItem{Name: c(f.Name)})
		}
		for _, ds := range disc.Datasets {
			k.Discovery.Datasets = append(k.Discovery.Datasets, packagedoc.DiscoveryItem{Name: c(ds.Name)})
		}
	}
	return k
}

func cloneAll(ss []string) []string {
	if ss == nil {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.Clone(s)
	}
	return out
}

func cloneDeprecated(d *packagedoc.Deprecated) *packagedoc.Deprecated {
	if d == nil {
		return nil
	}
	c := strings.Clone
	out := &packagedoc.Deprecated{Since: c(d.Since), Description: c(d.Description)}
	if r := d.ReplacedBy; r != nil {
		out.ReplacedBy = &packagedoc.ReplacedBy{Package: c(r.Package), PolicyTemplate: c(r.PolicyTemplate), Input: c(r.Input), DataStream: c(r.DataStream), Variable: c(r.Variable)}
	}
	return out
}
