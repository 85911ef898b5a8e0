package readme

import (
	"context"

	"pkgstore/internal/builder/ecs"
)

// ecsFields resolves `external: ecs` fields with an ECS resolver.
type ecsFields struct{ r *ecs.Resolver }

// ECSFields resolves `external: ecs` fields from the ECS reference each
// package's _dev/build/build.yml names, through r (its cache and base URL).
func ECSFields(r *ecs.Resolver) ExternalFields { return ecsFields{r} }

func (e ecsFields) Inject(ctx context.Context, pkgDir string, defs []any) ([]any, error) {
	// A nil schema (no ECS reference) refuses external fields, naming them.
	schema, err := e.r.ForPackage(ctx, pkgDir)
	if err != nil {
		return nil, err
	}
	out, _, err := schema.Inject(defs, ecs.InjectOptions{KeepExternal: true})
	return out, err
}
