package builder

import (
	"context"
	"path"

	"pkgstore/internal/builder/ecs"
	"pkgstore/internal/builder/readme"
)

// Readme returns how the READMEs of the package in src are rendered: ECS
// fields through c.ECS (a default Resolver, kept in c, when nil), the links
// table c.LinksFile, the repository c.RepoRoot (else the one holding src).
func (c *Config) Readme(src string) readme.Options {
	if c.ECS == nil {
		c.ECS = &ecs.Resolver{}
	}
	root := c.RepoRoot
	if root == "" {
		root = FindRepoRoot(src)
	}
	return readme.Options{Fields: readme.ECSFields(c.ECS), LinksFile: c.LinksFile, RepoRoot: root}
}

// stepReadmes renders the README templates, _dev/build/docs/*.md, as
// elastic-package does near the end of its build: into the source
// folder's docs/ and into the built package's.
func stepReadmes(ctx context.Context, src string, t *Tree, cfg *Config) error {
	rs, err := readme.Update(ctx, src, cfg.Readme(src))
	if err != nil {
		return err
	}
	for _, r := range rs {
		t.WriteFile(path.Join(readme.DocsDir, r.Name), r.Content)
	}
	return nil
}
