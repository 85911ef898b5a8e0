package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"pkgstore/internal/client"
	"pkgstore/internal/govern/audit"
	"pkgstore/internal/govern/governapi"
	"pkgstore/internal/storage"
)

func init() { subcommands = append(subcommands, newAuditCmd) }

func newAuditCmd() *cobra.Command {
	var (
		registryURL, token, format string
		q                          client.AuditQuery
		cfg                        storage.Config
	)
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Query the audit log: who published, refused, yanked what, when, with which key",
		Long: `Audit prints the audit records matching the filters, oldest first, as a
table or as JSON (one array). With --registry it asks a store's API (the
token needs the audit scope); without, it reads the buckets directly.

  pkgstore audit --package aws --version 2.3.1 --event published

answers who published aws 2.3.1, from where, with which signing key and when.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format == "text" { // every other command's name for the human form
				format = "table"
			}
			if format != "table" && format != "json" {
				return usageError("--format must be table (or text) or json, got %q", format)
			}
			if _, err := audit.ParseEvent(q.Event); err != nil {
				return usageError("--event: %v", err)
			}
			var recs []audit.Record
			if registryURL != "" {
				if err := needRegistry(registryURL, &token, false); err != nil {
					return err
				}
				c, err := client.New(registryURL, token)
				if err != nil {
					return usageError("%v", err)
				}
				if recs, err = c.AuditAll(cmd.Context(), q); err != nil {
					return fail(err)
				}
			} else {
				aq := audit.Query{Package: q.Package, Version: q.Version, Token: q.Token, Event: audit.Event(q.Event)}
				var err error
				now := time.Now()
				if aq.Since, err = governapi.ParseTime(q.Since, now); err != nil {
					return usageError("--since: %v", err)
				}
				if aq.Until, err = governapi.ParseTime(q.Until, now); err != nil {
					return usageError("--until: %v", err)
				}
				cfg.MustExist = true // reading: a wrong --data is an error, not an empty log
				b, err := storage.Open(cmd.Context(), cfg)
				if err != nil {
					return fail(err)
				}
				defer b.Close()
				if recs, err = audit.New(b.Internal).All(cmd.Context(), aq); err != nil {
					return unreachable(err) // the records are there: the bucket failed
				}
			}
			out := cmd.OutOrStdout()
			if format == "json" {
				if recs == nil {
					recs = []audit.Record{}
				}
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				enc.SetEscapeHTML(false)
				return enc.Encode(recs)
			}
			writeAuditTable(out, recs)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&registryURL, "registry", "", "ask this store's API (default: read the buckets)")
	f.StringVar(&token, "token", "", "token with the audit scope (default $PKGSTORE_TOKEN)")
	storageFlags(f, &cfg)
	f.StringVar(&q.Package, "package", "", "only this package name")
	f.StringVar(&q.Version, "version", "", "only this version")
	f.StringVar(&q.Token, "token-name", "", "only records of this token (its name)")
	f.StringVar(&q.Event, "event", "", "only this event: received, published, refused, passed, yanked, unyanked, token_refused, token_refusals_suppressed")
	f.StringVar(&q.Since, "since", "", "records from this time on (RFC 3339, 2026-12-01, or an age: 36h, 7d)")
	f.StringVar(&q.Until, "until", "", "records before this time")
	f.StringVar(&format, "format", "table", "table (text) or json (one JSON array on stdout)")
	return cmd
}

func writeAuditTable(w io.Writer, recs []audit.Record) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tEVENT\tPACKAGE\tVERSION\tTOKEN\tCLIENT\tSIGNING KEY\tSHA256\tSUBMISSION\tDETAIL")
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	for _, r := range recs {
		detail := r.Reason
		if len(r.Reasons) > 0 {
			detail = strings.Join(r.Reasons, "; ")
		}
		if r.Action != "" {
			detail = r.Action + ": " + detail
		}
		if r.Suppressed > 0 {
			detail = fmt.Sprintf("%d refusals from %s to %s: %s", r.Suppressed, r.WindowStart.UTC().Format(time.RFC3339), r.WindowEnd.UTC().Format(time.RFC3339), detail)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Time.UTC().Format(time.RFC3339), r.Event, dash(r.Package), dash(r.Version), dash(r.Token), dash(r.Client), dash(r.Fingerprint), dash(r.SHA256), dash(r.Submission), dash(strings.ReplaceAll(detail, "\n", " ")))
	}
	tw.Flush()
	if len(recs) == 0 {
		fmt.Fprintln(w, "(no records)")
	}
}
