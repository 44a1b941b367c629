package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/seshatsec/seshat/client"
	"github.com/seshatsec/seshat/internal/auth"
	"github.com/seshatsec/seshat/internal/config"
	"github.com/seshatsec/seshat/internal/ingest"
	"github.com/seshatsec/seshat/internal/model"
	"github.com/seshatsec/seshat/internal/sensor"
	"github.com/seshatsec/seshat/internal/store"
	"github.com/seshatsec/seshat/internal/store/duckdb"
)

// captureBatch bounds the sessions sent in one upload or appended at once.
const captureBatch = 2000

func captureCmd() *cobra.Command {
	var (
		rf           remoteFlags
		files        []string
		stdout       bool
		data, tenant string
		cfg          = sensor.DefaultConfig()
	)
	cmd := &cobra.Command{
		Use:   "capture -r FILE...",
		Short: "Turn packet captures (pcap, pcapng, gzip'd or not) into sessions",
		Long: "Read packet captures and turn their packets into sessions, as Arkime's capture\n" +
			"does. --stdout prints one session per line as NDJSON; --data writes them\n" +
			"offline into a data folder no server holds; otherwise they are uploaded to\n" +
			"--server with --key, batched and gzip'd. Live capture (-i) is not supported yet.",
		Example: `  seshat capture -r traffic.pcap --stdout
  seshat capture -r a.pcapng -r b.pcap.gz --key $KEY
  seshat capture -r traffic.pcap --data ./seshat-data`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			files = append(files, args...)
			if len(files) == 0 {
				return errors.New("cannot capture: give the files to read with -r")
			}
			var sink func(ctx context.Context, batch []byte) error
			switch {
			case stdout && data != "":
				return errors.New("cannot capture: give --stdout or --data, not both")
			case stdout:
				// Sessions are written as they end; nothing else goes to stdout.
				w := bufio.NewWriterSize(cmd.OutOrStdout(), 1<<16)
				defer w.Flush()
				sink = func(_ context.Context, batch []byte) error {
					_, err := w.Write(batch)
					return err
				}
			case data != "":
				if cmd.Flags().Changed("server") {
					return errors.New("cannot capture: give --server or --data, not both")
				}
				db, err := openCaptureStore(ctx, data, tenant)
				if err != nil {
					return err
				}
				defer db.Close()
				sink = storeSink(db, tenant)
			default:
				c, err := rf.client()
				if err != nil {
					return fmt.Errorf("cannot capture: %w", err)
				}
				sink = uploadSink(c, cmd.ErrOrStderr())
			}
			return runCapture(ctx, files, cfg, sink, cmd.ErrOrStderr())
		},
	}
	rf.add(cmd)
	f := cmd.Flags()
	f.StringArrayVarP(&files, "read", "r", nil, "pcap or pcapng file to read (gzip'd or not); repeat for more")
	f.BoolVar(&stdout, "stdout", false, "print the sessions as NDJSON on stdout")
	f.StringVar(&data, "data", "", "write the sessions offline into this data folder (no server may be using it)")
	f.StringVar(&tenant, "tenant", auth.DefaultTenant, "tenant of the sessions (--data only; a server uses the key's)")
	f.StringVar(&cfg.Node, "node", "", "sensor name written in every session's node field")
	f.IntVar(&cfg.MaxFlows, "max-flows", cfg.MaxFlows, "most active flows; the least recently seen is ended early at the cap")
	f.DurationVar(&cfg.TCPTimeout, "tcp-timeout", cfg.TCPTimeout, "idle time (packet time) after which a TCP session ends")
	f.DurationVar(&cfg.UDPTimeout, "udp-timeout", cfg.UDPTimeout, "idle time after which a UDP session ends")
	f.DurationVar(&cfg.ICMPTimeout, "icmp-timeout", cfg.ICMPTimeout, "idle time after which an ICMP (or other IP protocol) session ends")
	return cmd
}

// runCapture reads files in order through one sensor, so that a session
// may continue from one file into the next, and hands the sessions to sink
// in NDJSON batches.
func runCapture(ctx context.Context, files []string, cfg sensor.Config, sink func(context.Context, []byte) error, errOut io.Writer) error {
	var (
		buf bytes.Buffer
		n   int
	)
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	flush := func() error {
		if n == 0 {
			return nil
		}
		err := sink(ctx, buf.Bytes())
		buf.Reset()
		n = 0
		return err
	}
	s := sensor.New(cfg, func(sess *sensor.Session) error {
		if err := enc.Encode(sess); err != nil {
			return fmt.Errorf("cannot encode session: %w", err)
		}
		if n++; n >= captureBatch {
			return flush()
		}
		return nil
	})
	var readErr error
	for _, name := range files {
		if err := ctx.Err(); err != nil {
			readErr = err
			break
		}
		if err := s.ReadFile(name); err != nil {
			// A damaged file still yields the sessions before the damage;
			// go on with the next file and fail at the end.
			fmt.Fprintln(errOut, "seshat:", err)
			readErr = err
		}
	}
	if err := s.Flush(); err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	st := s.Stats()
	fmt.Fprintf(errOut, "capture: %d packets, %d sessions, %d not IP, %d undecodable, %d evicted early\n",
		st.Packets, st.Sessions, st.NotIP, st.DecodeErrors, st.Evicted)
	if readErr != nil {
		return fmt.Errorf("cannot read every capture: %w", readErr)
	}
	return nil
}

// uploadSink posts each batch to the server, again while it answers 429 or
// 503 (it stored nothing then), with a growing pause or the one it asks.
func uploadSink(c *client.Client, errOut io.Writer) func(context.Context, []byte) error {
	return func(ctx context.Context, batch []byte) error {
		backoff := 500 * time.Millisecond
		for attempt := 1; ; attempt++ {
			r, err := c.Upload(ctx, batch)
			var ae *client.APIError
			if errors.As(err, &ae) && (ae.Status == 429 || ae.Status == 503) && attempt < maxAttempts {
				wait := ae.RetryAfter
				if wait <= 0 {
					wait = backoff
				}
				backoff = min(2*backoff, 30*time.Second)
				select {
				case <-time.After(wait):
					continue
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			if err != nil {
				return fmt.Errorf("cannot upload sessions: %w", err)
			}
			if len(r.Rejected) > 0 {
				fmt.Fprintf(errOut, "capture: the server rejected %d of %d sessions: %v\n", r.Received-r.Accepted, r.Received, r.Rejected)
			}
			return nil
		}
	}
}

// openCaptureStore opens a data folder for offline writes.
func openCaptureStore(ctx context.Context, dir, tenant string) (*duckdb.DB, error) {
	if !auth.ValidTenant(tenant) {
		return nil, fmt.Errorf("cannot capture: invalid tenant %q: use 1-63 lowercase letters, digits, '-' or '_'", tenant)
	}
	db, err := duckdb.Open(ctx, dir, config.Default().DuckDB, model.Default, nil)
	if err != nil {
		return nil, fmt.Errorf("cannot open data folder %s (a running server holds it? capture to it with --key instead): %w", dir, err)
	}
	if err := db.CreateTenant(ctx, tenant); err != nil {
		db.Close()
		return nil, fmt.Errorf("cannot create tenant %s: %w", tenant, err)
	}
	return db, nil
}

// storeSink turns each batch into rows with the decoder uploads go
// through, so that a session written offline is validated the same way,
// and appends them.
func storeSink(db *duckdb.DB, tenant string) func(context.Context, []byte) error {
	dec := ingest.NewSessionDecoder(model.Default, ingest.DefaultLimits(), tenant)
	return func(ctx context.Context, batch []byte) error {
		var rows []store.Row
		res, err := dec.Decode(batch, func(r store.Row) error { rows = append(rows, r); return nil })
		if err != nil {
			return fmt.Errorf("cannot decode sessions: %w", err)
		}
		if res.Accepted != res.Received {
			return fmt.Errorf("cannot store sessions: %d of %d rejected: %v", res.Received-res.Accepted, res.Received, res.Rejected)
		}
		if err := db.Append(ctx, rows, dec.DiscoveredFields()); err != nil {
			return fmt.Errorf("cannot store sessions: %w", err)
		}
		return nil
	}
}
