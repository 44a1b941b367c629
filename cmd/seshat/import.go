package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/seshatsec/seshat/client"
	"github.com/seshatsec/seshat/internal/auth"
	"github.com/seshatsec/seshat/internal/config"
	"github.com/seshatsec/seshat/internal/ingest"
	"github.com/seshatsec/seshat/internal/ingest/importer"
	"github.com/seshatsec/seshat/internal/model"
	"github.com/seshatsec/seshat/internal/store/duckdb"
)

// importOptions tune an import.
type importOptions struct {
	format      string // "": detected per file
	chunkBytes  int
	concurrency int
}

// chunkSender writes one chunk, to a server or into a local store.
type chunkSender func(ctx context.Context, format ingest.Format, alphaType string, data []byte) (importer.Result, error)

func importCmd() *cobra.Command {
	var (
		rf           remoteFlags
		data, tenant string
		opts         importOptions
	)
	cmd := &cobra.Command{
		Use:   "import FILE...",
		Short: "Import log files: Zeek (TSV, JSON), Suricata EVE, AlphaSOC events, session NDJSON",
		Long: "Import log files, plain or gzip'd, into a running server (--server, --key) or,\n" +
			"offline, straight into a data folder that no server holds (--data). The format\n" +
			"is recognised from each file's content. Files are streamed in chunks of whole\n" +
			"lines (Zeek TSV headers are sent again with every chunk). The exit status is\n" +
			"non-zero when any record was rejected or any file failed.",
		Example: `  seshat import conn.log dns.log.gz eve.json --key $KEY
  seshat import --data ./seshat-data conn.log`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if opts.format != "" {
				if _, ok := importer.ParseFormat(opts.format); !ok {
					return fmt.Errorf("cannot import: unknown --format %q: use zeek-tsv, zeek-json, eve, alphasoc or session-json", opts.format)
				}
			}
			var send chunkSender
			if data != "" {
				if cmd.Flags().Changed("server") {
					return errors.New("cannot import: give --server or --data, not both")
				}
				db, err := openOffline(ctx, data, tenant)
				if err != nil {
					return err
				}
				defer db.Close()
				send = localSender(db, tenant)
			} else {
				c, err := rf.client()
				if err != nil {
					return err
				}
				send = remoteSender(c)
			}
			return runImport(ctx, args, send, opts, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	rf.add(cmd)
	cmd.Flags().StringVar(&data, "data", "", "import offline into this data folder (no server may be using it)")
	cmd.Flags().StringVar(&tenant, "tenant", auth.DefaultTenant, "tenant of the sessions (offline imports only; a server uses the key's)")
	cmd.Flags().StringVar(&opts.format, "format", "", "format of every file: zeek-tsv, zeek-json, eve, alphasoc or session-json (default: recognised per file)")
	cmd.Flags().IntVar(&opts.chunkBytes, "chunk-size", importer.DefaultChunkBytes, "largest chunk sent at once, in bytes (uncompressed)")
	cmd.Flags().IntVar(&opts.concurrency, "concurrency", 3, "chunks in flight at once")
	return cmd
}

// openOffline opens a data folder for an offline import.
func openOffline(ctx context.Context, dir, tenant string) (*duckdb.DB, error) {
	if !auth.ValidTenant(tenant) {
		return nil, fmt.Errorf("cannot import: invalid tenant %q: use 1-63 lowercase letters, digits, '-' or '_'", tenant)
	}
	db, err := duckdb.Open(ctx, dir, config.Default().DuckDB, model.Default, nil)
	if err != nil {
		return nil, fmt.Errorf("cannot open data folder %s (a running server holds it? import through it with --server and --key instead): %w", dir, err)
	}
	if err := db.CreateTenant(ctx, tenant); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func localSender(db *duckdb.DB, tenant string) chunkSender {
	cfg := importer.Config{Tenant: tenant, Registry: model.Default, Limits: ingest.DefaultLimits()}
	return func(ctx context.Context, format ingest.Format, alphaType string, data []byte) (importer.Result, error) {
		return importer.Chunk(ctx, db, cfg, format, alphaType, data)
	}
}

// maxAttempts bounds how often one chunk is sent while the server answers
// 429 or 503.
const maxAttempts = 12

func remoteSender(c *client.Client) chunkSender {
	return func(ctx context.Context, format ingest.Format, alphaType string, data []byte) (importer.Result, error) {
		// Chunks compress about tenfold: the server's body limit and the
		// network see a tenth of the bytes. BestSpeed keeps compression
		// well ahead of the server's decoding.
		var buf bytes.Buffer
		buf.Grow(len(data)/4 + 1024)
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		zw.Write(data)
		if err := zw.Close(); err != nil {
			return importer.Result{}, fmt.Errorf("cannot compress chunk: %w", err)
		}
		backoff := 500 * time.Millisecond
		for attempt := 1; ; attempt++ {
			r, err := c.ImportChunk(ctx, string(format), alphaType, buf.Bytes(), true)
			var ae *client.APIError
			if errors.As(err, &ae) && (ae.Status == 429 || ae.Status == 503) && attempt < maxAttempts {
				// The server stored nothing of the chunk: send it again,
				// when it says (Retry-After) or with a growing pause.
				wait := ae.RetryAfter
				if wait <= 0 {
					wait = backoff
				}
				backoff = min(2*backoff, 30*time.Second)
				select {
				case <-time.After(wait):
					continue
				case <-ctx.Done():
					return importer.Result{}, ctx.Err()
				}
			}
			if err != nil {
				return importer.Result{}, err
			}
			res := importer.Result{Format: ingest.Format(r.Format), Received: r.Received, Accepted: r.Accepted, Alerts: r.Alerts, Rejected: r.Rejected}
			for _, e := range r.Errors {
				res.Errors = append(res.Errors, ingest.LineError{Line: e.Line, Reason: e.Reason, Detail: e.Message})
			}
			if e := r.Stopped; e != nil {
				res.Stopped = &ingest.LineError{Line: e.Line, Reason: e.Reason, Detail: e.Message}
			}
			return res, nil
		}
	}
}

// fileResult is what one file's import came to.
type fileResult struct {
	name string
	res  importer.Result
	err  error
	took time.Duration
}

// runImport imports files one after another and prints the summary.
func runImport(ctx context.Context, files []string, send chunkSender, opts importOptions, out, errOut io.Writer) error {
	if opts.chunkBytes <= 0 {
		opts.chunkBytes = importer.DefaultChunkBytes
	}
	opts.concurrency = max(opts.concurrency, 1)
	tty := isTerminal(errOut)
	var results []fileResult
	for _, name := range files {
		start := time.Now()
		var bar *progressbar.ProgressBar
		var onRead func(int64)
		if tty {
			var size int64 = -1
			if fi, err := os.Stat(name); err == nil {
				size = fi.Size()
			}
			bar = progressbar.NewOptions64(size, progressbar.OptionSetWriter(errOut), progressbar.OptionSetDescription(filepath.Base(name)),
				progressbar.OptionShowBytes(true), progressbar.OptionSetPredictTime(true), progressbar.OptionSetElapsedTime(true),
				progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionShowElapsedTimeOnFinish(), progressbar.OptionFullWidth())
			onRead = func(n int64) { bar.Add64(n) }
		}
		res, err := importFile(ctx, name, send, opts, onRead)
		fr := fileResult{name: name, res: res, err: err, took: time.Since(start)}
		if bar != nil {
			bar.Finish()
			fmt.Fprintln(errOut)
		}
		if err != nil {
			fmt.Fprintf(errOut, "seshat: %v\n", err)
		} else if !tty {
			fmt.Fprintf(errOut, "imported %s (%s): %d received, %d accepted, %d rejected in %s (%.0f records/s)\n", name, res.Format,
				res.Received, res.Accepted, res.RejectedTotal(), fr.took.Round(time.Millisecond), float64(res.Received)/max(fr.took.Seconds(), 1e-9))
		}
		results = append(results, fr)
		if ctx.Err() != nil {
			break
		}
	}
	return summarize(out, results)
}

// summarize prints a line per file and the total, then the rejections; it
// returns an error when anything was rejected or failed.
func summarize(out io.Writer, results []fileResult) error {
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FILE\tFORMAT\tRECEIVED\tACCEPTED\tALERTS\tREJECTED\tSTATUS")
	var total importer.Result
	failed := 0
	for _, fr := range results {
		status := "ok"
		switch {
		case fr.err != nil:
			status, failed = "failed", failed+1
		case fr.res.Stopped != nil:
			status, failed = "stopped", failed+1
		case fr.res.RejectedTotal() > 0:
			status = "rejections"
		}
		format := string(fr.res.Format)
		if format == "" {
			format = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\n", fr.name, format, fr.res.Received, fr.res.Accepted, fr.res.Alerts, fr.res.RejectedTotal(), status)
		merge(&total, fr.res, nil)
	}
	if len(results) > 1 {
		fmt.Fprintf(tw, "total\t\t%d\t%d\t%d\t%d\t\n", total.Received, total.Accepted, total.Alerts, total.RejectedTotal())
	}
	tw.Flush()
	for _, fr := range results {
		if fr.err != nil {
			fmt.Fprintf(out, "%s: failed: %v\n", fr.name, fr.err)
		}
		if e := fr.res.Stopped; e != nil {
			fmt.Fprintf(out, "%s: stopped at line %d: %s\n", fr.name, e.Line, e.Detail)
		}
		reasons := make([]string, 0, len(fr.res.Rejected))
		for r, n := range fr.res.Rejected {
			if n > 0 {
				reasons = append(reasons, r)
			}
		}
		sort.Strings(reasons)
		for _, r := range reasons {
			fmt.Fprintf(out, "%s: rejected %d: %s\n", fr.name, fr.res.Rejected[r], r)
		}
		for _, e := range fr.res.Errors {
			fmt.Fprintf(out, "%s:%d: %s\n", fr.name, e.Line, e.Detail)
		}
	}
	if rejected := total.RejectedTotal(); rejected > 0 || failed > 0 {
		return fmt.Errorf("cannot import everything: %d records rejected, %d of %d files failed or stopped", rejected, failed, len(results))
	}
	return nil
}

// merge adds a chunk's result to a file's, mapping its lines to the file's
// (c nil: lines are kept).
func merge(dst *importer.Result, src importer.Result, c *importer.ChunkData) {
	if dst.Format == "" {
		dst.Format = src.Format
	}
	dst.Received += src.Received
	dst.Accepted += src.Accepted
	dst.Alerts += src.Alerts
	for r, n := range src.Rejected {
		dst.Reject(r, n)
	}
	line := func(e ingest.LineError) ingest.LineError {
		if c != nil && e.Line > 0 {
			e.Line = c.FileLine(e.Line)
		}
		return e
	}
	for _, e := range src.Errors {
		if len(dst.Errors) < ingest.MaxErrors {
			dst.Errors = append(dst.Errors, line(e))
		}
	}
	if src.Stopped != nil && dst.Stopped == nil {
		e := line(*src.Stopped)
		dst.Stopped = &e
	}
}

// countingReader reports the bytes read through it.
type countingReader struct {
	r      io.Reader
	onRead func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 && c.onRead != nil {
		c.onRead(int64(n))
	}
	return n, err
}

// importFile streams one file: it is cut into chunks by one goroutine and
// up to opts.concurrency chunks are sent at once, so memory stays at a few
// chunks whatever the file's size.
func importFile(ctx context.Context, name string, send chunkSender, opts importOptions, onRead func(int64)) (importer.Result, error) {
	f, err := os.Open(name)
	if err != nil {
		return importer.Result{}, fmt.Errorf("cannot import %s: %w", name, err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(&countingReader{r: f, onRead: onRead}, 64<<10)
	head, _ := br.Peek(64 << 10)
	format, _ := importer.ParseFormat(opts.format)
	if format == ingest.FormatUnknown {
		if format = ingest.Detect(head); format == ingest.FormatUnknown {
			return importer.Result{}, fmt.Errorf("cannot import %s: %v", name, importer.ErrUnknownFormat)
		}
	}
	src, err := ingest.Decompress(br)
	if err != nil {
		return importer.Result{Format: format}, fmt.Errorf("cannot import %s: %w", name, err)
	}
	sp := importer.NewSplitter(src, format, opts.chunkBytes)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		res      = importer.Result{Format: format, Rejected: map[string]int{}}
		firstErr error
		failed   atomic.Bool
		wg       sync.WaitGroup
		chunks   = make(chan importer.ChunkData, opts.concurrency)
	)
	alphaType := ""
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
		failed.Store(true)
		cancel()
	}
	for range opts.concurrency {
		wg.Go(func() {
			for c := range chunks {
				if failed.Load() {
					continue // drain: a chunk failed, the file is abandoned
				}
				r, err := send(ctx, format, alphaType, c.Data)
				if err != nil {
					fail(fmt.Errorf("cannot import %s: lines %d and on: %w", name, c.FirstLine, err))
					continue
				}
				mu.Lock()
				merge(&res, r, &c)
				mu.Unlock()
			}
		})
	}
	var readErr error
	for first := true; ; first = false {
		c, err := sp.Next()
		if err != nil {
			if err != io.EOF {
				readErr = err
			}
			break
		}
		if first && format == ingest.FormatAlphaSOC {
			// Every chunk of the file is sent with the type of its first
			// event, so later chunks need no guessing.
			if t, ok := importer.AlphaSOCType(c.Data); ok {
				alphaType = string(t)
			}
		}
		select {
		case chunks <- c:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(chunks)
	wg.Wait()
	if sp.TooLongCount > 0 {
		res.Received += sp.TooLongCount
		res.Reject(importer.ReasonLineTooLong, sp.TooLongCount)
		for _, n := range sp.TooLong {
			if len(res.Errors) < ingest.MaxErrors {
				res.Errors = append(res.Errors, ingest.LineError{Line: n, Reason: importer.ReasonLineTooLong,
					Detail: fmt.Sprintf("line %d is longer than %d bytes", n, opts.chunkBytes)})
			}
		}
	}
	if firstErr != nil {
		return res, firstErr
	}
	if err := ctx.Err(); err != nil && !failed.Load() {
		return res, fmt.Errorf("cannot import %s: %w", name, err)
	}
	if readErr != nil {
		return res, fmt.Errorf("cannot import %s: %w (the lines before were imported)", name, readErr)
	}
	return res, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd())) && !strings.EqualFold(os.Getenv("TERM"), "dumb")
}
