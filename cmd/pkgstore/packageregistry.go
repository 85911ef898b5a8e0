package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/spf13/cobra"

	"pkgstore/internal/server/buildinfo"
	"pkgstore/internal/server/eprcli"
)

func init() { subcommands = append(subcommands, newPackageRegistryCmd) }

// eprName is the program name that selects EPR's command line: a link
// named package-registry to pkgstore runs `pkgstore package-registry`.
const eprName = "package-registry"

func newPackageRegistryCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "package-registry [EPR FLAGS]",
		Short: "Run as the Elastic Package Registry: EPR 1.40.1's flags, EPR_* variables and config.yml (docs/epr-dropin.md)",
		Long: `Start the registry from an EPR deployment's own command line, environment
(EPR_<FLAG>) and config.yml, unchanged. The same happens when pkgstore is run
through a link named package-registry. "package-registry -help" lists EPR's
flags; docs/epr-dropin.md says what each one does here.`,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPackageRegistry(cmd.Context(), eprName, args, cmd.OutOrStdout())
		},
	}
}

// runPackageRegistry translates EPR's command line into serve's and runs
// serve; it exits as EPR does: 0 after -help and -version, 2 for a bad
// flag, 1 for what EPR refuses to start with.
func runPackageRegistry(ctx context.Context, name string, args []string, stdout io.Writer) error {
	inv, err := eprcli.Parse(name, args, eprcli.Env{LookupEnv: os.LookupEnv, ReadFile: readEPRConfig, Workers: runtime.GOMAXPROCS(0)}, os.Stderr)
	var ue *eprcli.UsageError
	switch {
	case errors.Is(err, eprcli.ErrHelp):
		return nil
	case errors.As(err, &ue):
		// The flag package printed the error and the usage.
		return &exitError{Code: 2}
	case err != nil:
		return &exitError{Code: 1, Err: err}
	}
	if inv.PrintVersion {
		fmt.Fprintln(stdout, eprcli.VersionLine(buildinfo.Read().Short()))
		return nil
	}
	log, err := newFormatLogger(inv.LogFormat, inv.LogLevel)
	if err != nil {
		return err
	}
	for _, w := range inv.Warnings {
		log.Warn(w)
	}
	log.Info("EPR command line mapped", "serve", inv.ServeArgs)
	root := newRootCmd()
	root.SetArgs(append([]string{"serve"}, inv.ServeArgs...))
	return root.ExecuteContext(ctx)
}

// readEPRConfig reads config.yml, bounded.
func readEPRConfig(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, eprcli.MaxConfigSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > eprcli.MaxConfigSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, eprcli.MaxConfigSize)
	}
	return data, nil
}
