package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/seshatsec/seshat/client"
)

// remoteFlags are the flags of every command that talks to a server.
type remoteFlags struct{ server, key string }

func (r *remoteFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&r.server, "server", envOr("SESHAT_SERVER", "http://127.0.0.1:8080"), "server URL (env SESHAT_SERVER)")
	cmd.Flags().StringVar(&r.key, "key", os.Getenv("SESHAT_KEY"), "API key (env SESHAT_KEY)")
}

func (r *remoteFlags) client() (*client.Client, error) {
	if r.key == "" {
		return nil, errors.New("an API key is required: --key or SESHAT_KEY")
	}
	return client.New(r.server, r.key), nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// tableColumns are the columns of the query table, by canonical name.
var tableColumns = []string{"firstPacket", "source.ip", "source.port", "destination.ip", "destination.port", "network.transport", "protocol", "source.bytes", "destination.bytes"}

func queryCmd() *cobra.Command {
	var (
		rf        remoteFlags
		asJSON    bool
		p         client.SearchParams
		all       bool
		countOnly bool
	)
	cmd := &cobra.Command{
		Use:   "query [EXPRESSION]",
		Short: "Search sessions with an Arkime expression",
		Example: `  seshat query 'ip.src == 10.0.0.1 && port.dst == 443' --key $KEY
  seshat query 'host.http == *.example.com' --json --limit 1000`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := rf.client()
			if err != nil {
				return err
			}
			if len(args) == 1 {
				p.Query = args[0]
			}
			p.Count = countOnly
			out := cmd.OutOrStdout()
			var tw *tabwriter.Writer
			if !asJSON {
				tw = tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\t"+strings.ToUpper(strings.Join(tableColumns, "\t")))
			}
			enc := json.NewEncoder(out)
			for {
				res, err := c.Search(cmd.Context(), p)
				if err != nil {
					return err
				}
				if countOnly {
					fmt.Fprintln(out, *res.Total)
					return nil
				}
				for _, it := range res.Items {
					if asJSON {
						enc.Encode(it)
						continue
					}
					row := []string{fmt.Sprint(it["id"])}
					for _, col := range tableColumns {
						row = append(row, cell(lookup(it, col)))
					}
					fmt.Fprintln(tw, strings.Join(row, "\t"))
				}
				if !all || res.NextCursor == "" {
					break
				}
				p.Cursor = res.NextCursor
			}
			if tw != nil {
				return tw.Flush()
			}
			return nil
		},
	}
	rf.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print sessions as NDJSON")
	cmd.Flags().IntVar(&p.Limit, "limit", 50, "sessions per page")
	cmd.Flags().BoolVar(&all, "all", false, "follow cursors and print every page")
	cmd.Flags().BoolVar(&countOnly, "count", false, "print only the number of matching sessions")
	cmd.Flags().StringVar(&p.Start, "start", "", "only sessions ending at or after this time (RFC 3339 or epoch)")
	cmd.Flags().StringVar(&p.End, "end", "", "only sessions starting at or before this time")
	cmd.Flags().StringSliceVar(&p.Order, "order", nil, "sort keys, field:asc|desc (repeatable)")
	cmd.Flags().StringSliceVar(&p.Fields, "fields", nil, "fields to return (with --json)")
	return cmd
}

// lookup reads a dotted name from a nested session document.
func lookup(doc map[string]any, name string) any {
	var cur any = doc
	for _, part := range strings.Split(name, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return cur
}

func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return "-"
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = fmt.Sprint(e)
		}
		return strings.Join(parts, ",")
	default:
		return fmt.Sprint(x)
	}
}

func keysCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Create, list and revoke API keys (admin keys only)"}
	var rf remoteFlags
	var role, tenant, name string
	create := &cobra.Command{
		Use:   "create",
		Short: "Make a key; its secret is printed once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := rf.client()
			if err != nil {
				return err
			}
			k, err := c.CreateKey(cmd.Context(), role, tenant, name)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "id:     %s\ntenant: %s\nrole:   %s\nkey:    %s\n", k.ID, k.Tenant, k.Role, k.Key)
			return nil
		},
	}
	create.Flags().StringVar(&role, "role", "viewer", "admin, analyst, sensor or viewer")
	create.Flags().StringVar(&tenant, "tenant", "", "tenant (default: the caller's; another one only with the bootstrap key)")
	create.Flags().StringVar(&name, "name", "", "a label for the key")
	list := &cobra.Command{
		Use:   "list",
		Short: "List keys (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := rf.client()
			if err != nil {
				return err
			}
			keys, err := c.Keys(cmd.Context())
			if err != nil {
				return err
			}
			sort.Slice(keys, func(i, j int) bool { return keys[i].CreatedAt < keys[j].CreatedAt })
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTENANT\tROLE\tNAME\tCREATED")
			for _, k := range keys {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Tenant, k.Role, k.Name, k.CreatedAt)
			}
			return tw.Flush()
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a key by id",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := rf.client()
			if err != nil {
				return err
			}
			if err := c.RevokeKey(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "revoked", args[0])
			return nil
		},
	}
	for _, c := range []*cobra.Command{create, list, revoke} {
		rf.add(c)
		cmd.AddCommand(c)
	}
	return cmd
}
