package packagedoc

// Decoded returns the BasePackage that decoding p's JSON document gives
// (what the catalog reads of a document), without encoding and decoding
// it: the base fields as they are, and the policy templates and data
// streams in their base forms taken from the full ones, which are what the
// document holds under "policy_templates" and "data_streams" (they shadow
// the base lists). Lists the document omits when empty are nil, as a
// decoder leaves them. The strings are p's, not copies.
func (p *Package) Decoded() BasePackage {
	b := p.BasePackage
	b.Icons = nilIfEmpty(b.Icons)
	b.Categories = nilIfEmpty(b.Categories)
	b.BasePolicyTemplates = nil
	for _, pt := range p.PolicyTemplates {
		b.BasePolicyTemplates = append(b.BasePolicyTemplates, BasePolicyTemplate{
			Name: pt.Name, Title: pt.Title, Description: pt.Description,
			Icons: nilIfEmpty(pt.Icons), Categories: nilIfEmpty(pt.Categories),
			DeploymentModes: pt.DeploymentModes, DataStreams: nilIfEmpty(pt.DataStreams),
			Deprecated: pt.Deprecated,
		})
	}
	b.BaseDataStreams = nil
	for _, ds := range p.DataStreams {
		if ds == nil {
			// Encoded as null: a decoder makes it a nil element too.
			b.BaseDataStreams = append(b.BaseDataStreams, nil)
			continue
		}
		b.BaseDataStreams = append(b.BaseDataStreams, &BaseDataStream{
			Type: ds.Type, Dataset: ds.Dataset, Title: ds.Title, Deprecated: ds.Deprecated,
		})
	}
	if b.Discovery.IsZero() {
		b.Discovery = nil
	}
	return b
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}
