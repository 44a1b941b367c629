package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	duck "github.com/duckdb/duckdb-go/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/seshatsec/seshat/internal/model"
	"github.com/seshatsec/seshat/internal/store"
)

// op is one unit of work for the writer: rows to append, or a statement to
// run (updates, key changes). done receives the outcome once it is committed.
type op struct {
	rows       []store.Row
	events     []store.Event // raw events, committed with the rows (events.go)
	discovered []model.Field
	exec       func(ctx context.Context, conn *sql.Conn) error
	done       chan error
}

// writer owns every write. It takes row batches from many requests, appends
// them together through DuckDB's Appender and commits once (group commit),
// then acknowledges every request in the group: a request is answered only
// after its rows are in the fsynced WAL.
//
// It runs a few lanes, each with its own connection and Appender, because
// on a busy server building DuckDB's data chunks costs as much CPU as
// decoding the uploads. Appends never conflict with each other in DuckDB;
// what does conflict ("Conflict on update!") is concurrent changes to the
// same rows, so every other statement (updates, deletes, key changes) runs
// exclusively: it waits until no lane is committing, and lanes wait for it.
type writer struct {
	cfg     Config
	reg     *model.Registry
	lanes   []*lane
	queue   chan op
	stopped chan struct{}

	mu     sync.RWMutex // guards closed and the queue's closing
	closed bool

	// exclusive is held shared by a lane while it commits and exclusively
	// by a statement op.
	exclusive sync.RWMutex

	knownMu sync.Mutex
	known   map[string]bool // tenant + "\x00" + field: discovered fields already recorded
	counts  map[string]int  // tenant: discovered fields recorded, once read from the table

	batchRows    prometheus.Histogram
	commitTime   prometheus.Histogram
	rowsWritten  prometheus.Counter
	commitErrors prometheus.Counter
	queueDepth   prometheus.GaugeFunc
}

// lane is one appending connection.
type lane struct {
	conn     *sql.Conn
	appender *duck.Appender
}

func newWriter(ctx context.Context, db *sql.DB, cfg Config, reg *model.Registry, metrics prometheus.Registerer) (*writer, error) {
	w := &writer{
		cfg: cfg, reg: reg,
		queue:   make(chan op, cfg.QueueBatches),
		stopped: make(chan struct{}),
		known:   map[string]bool{},
		counts:  map[string]int{},
		batchRows: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "seshat_store_commit_rows", Help: "Rows per group commit.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 10),
		}),
		commitTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "seshat_store_commit_seconds", Help: "Time to append and commit one group.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		rowsWritten:  prometheus.NewCounter(prometheus.CounterOpts{Name: "seshat_store_rows_written_total", Help: "Session rows committed."}),
		commitErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "seshat_store_commit_errors_total", Help: "Group commits that failed."}),
	}
	w.queueDepth = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "seshat_store_queue_depth", Help: "Write operations waiting for the writer."},
		func() float64 { return float64(len(w.queue)) })
	if metrics != nil {
		for _, c := range []prometheus.Collector{w.batchRows, w.commitTime, w.rowsWritten, w.commitErrors, w.queueDepth} {
			if err := metrics.Register(c); err != nil {
				return nil, fmt.Errorf("cannot register store metrics: %w", err)
			}
		}
	}
	for i := 0; i < cfg.WriterLanes; i++ {
		conn, err := db.Conn(ctx)
		if err != nil {
			w.closeLanes()
			return nil, fmt.Errorf("cannot open writer connection: %w", err)
		}
		l := &lane{conn: conn}
		w.lanes = append(w.lanes, l)
		if err := l.openAppender(); err != nil {
			w.closeLanes()
			return nil, err
		}
	}
	var wg sync.WaitGroup
	for _, l := range w.lanes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(l)
		}()
	}
	go func() {
		wg.Wait()
		close(w.stopped)
	}()
	return w, nil
}

func (l *lane) openAppender() error {
	return l.conn.Raw(func(dc any) error {
		a, err := duck.NewAppenderFromConn(dc.(driver.Conn), "", "sessions")
		if err != nil {
			return fmt.Errorf("cannot create appender: %w", err)
		}
		l.appender = a
		return nil
	})
}

func (w *writer) closeLanes() error {
	var errs []error
	for _, l := range w.lanes {
		if l.appender != nil {
			errs = append(errs, l.appender.Close())
		}
		errs = append(errs, l.conn.Close())
	}
	return errors.Join(errs...)
}

// submit queues an op and waits for its outcome. It fails fast with
// ErrClosed once the writer stops taking work.
func (w *writer) submit(ctx context.Context, o op) error {
	o.done = make(chan error, 1)
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return store.ErrClosed
	}
	select {
	case w.queue <- o:
		w.mu.RUnlock()
	case <-ctx.Done():
		w.mu.RUnlock()
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return store.ErrBusy
		}
		return fmt.Errorf("cannot queue write: %w", ctx.Err())
	}
	// Once queued, the op is committed or failed by the writer whatever the
	// caller does; waiting for it keeps "acknowledged" meaning "durable".
	return <-o.done
}

func (w *writer) ready() error {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		return store.ErrClosed
	}
	if len(w.queue) == cap(w.queue) {
		return errors.New("writer queue is full")
	}
	return nil
}

// close stops intake and waits until everything queued is committed.
func (w *writer) close() error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.queue)
	}
	w.mu.Unlock()
	<-w.stopped
	return w.closeLanes()
}

// run is one lane's loop: it takes ops from the shared queue until it closes.
func (w *writer) run(l *lane) {
	for o := range w.queue {
		if o.exec != nil {
			o.done <- w.exec(l, o)
			continue
		}
		group := []op{o}
		n := len(o.rows)
		// Take whatever else is already waiting, up to the batch bound, so
		// concurrent uploads share one commit (and one fsync).
	gather:
		for n < w.cfg.MaxBatchRows {
			select {
			case next, ok := <-w.queue:
				if !ok {
					break gather
				}
				if next.exec != nil {
					err := w.commitRows(l, group)
					for _, g := range group {
						g.done <- err
					}
					group = nil
					next.done <- w.exec(l, next)
					break gather
				}
				group = append(group, next)
				n += len(next.rows)
			default:
				break gather
			}
		}
		if len(group) > 0 {
			err := w.commitRows(l, group)
			for _, g := range group {
				g.done <- err
			}
		}
	}
}

// exec runs a statement op alone: no lane commits while it runs.
func (w *writer) exec(l *lane, o op) error {
	w.exclusive.Lock()
	defer w.exclusive.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	return o.exec(ctx, l.conn)
}

// commitRows appends every row of the group and commits them in one flush.
// On failure nothing of the group is kept (DuckDB invalidates the appended
// data) and every request in it gets the error.
func (w *writer) commitRows(l *lane, group []op) error {
	start := time.Now()
	total := 0
	for _, g := range group {
		if err := w.recordDiscovered(l, g.rows, g.discovered); err != nil {
			w.commitErrors.Inc()
			return err
		}
	}
	w.exclusive.RLock()
	defer w.exclusive.RUnlock()
	if l.appender == nil {
		if err := l.openAppender(); err != nil {
			w.commitErrors.Inc()
			return err
		}
	}
	tx, err := w.beginEvents(l, group) // nil unless the group carries raw events
	if err != nil {
		w.commitErrors.Inc()
		return err
	}
	defer tx.rollback() // a no-op once committed
	cols := w.reg.Columns()
	args := make([]driver.Value, 0, 2+len(cols)+2+1)
	for _, g := range group {
		var tenant []byte
		for i := range g.rows {
			if tenant == nil || string(tenant) != g.rows[i].Tenant {
				tenant = []byte(g.rows[i].Tenant)
			}
			args = appendRowValues(args[:0], cols, &g.rows[i], tenant)
			if err := l.appender.AppendRow(args...); err != nil {
				w.commitErrors.Inc()
				l.resetAppender()
				return fmt.Errorf("cannot append session: %w", err)
			}
		}
		total += len(g.rows)
	}
	if err := l.appender.Flush(); err != nil {
		w.commitErrors.Inc()
		l.resetAppender()
		return fmt.Errorf("cannot commit sessions: %w", err)
	}
	if err := tx.commit(); err != nil {
		w.commitErrors.Inc()
		return err
	}
	w.batchRows.Observe(float64(total))
	w.rowsWritten.Add(float64(total))
	w.commitTime.Observe(time.Since(start).Seconds())
	return nil
}

// resetAppender discards a failed appender's rows and starts a fresh one.
func (l *lane) resetAppender() {
	l.appender.Clear()
	l.appender.Close()
	l.appender = nil
	if err := l.openAppender(); err != nil {
		// Without an appender no write can succeed; the next commit tries
		// again and reports the error rather than crash the server.
		l.appender = nil
	}
}

// appendRowValues lays a row out in the sessions table's column order:
// tenant, id, then the registry's columns (an IP as its two halves), attrs.
func appendRowValues(args []driver.Value, cols []*model.Field, r *store.Row, tenant []byte) []driver.Value {
	args = append(args, tenant, r.ID) // the tenant as bytes, made once per request: the driver copies strings
	for i, f := range cols {
		if f.Name == "id" {
			continue // written first, with the tenant
		}
		v := r.Cols[i]
		if f.Type == model.TypeIP {
			if a, ok := v.(netip.Addr); ok && a.IsValid() {
				hi, lo := model.IPParts(a)
				args = append(args, hi, lo)
			} else {
				args = append(args, nil, nil)
			}
			continue
		}
		args = append(args, v)
	}
	if r.Attrs == nil {
		return append(args, nil)
	}
	return append(args, r.Attrs) // []byte: the driver copies it once, not twice
}

// recordDiscovered stores fields seen for the first time for a tenant. It
// writes existing rows' keys, so it runs exclusively.
func (w *writer) recordDiscovered(l *lane, rows []store.Row, fields []model.Field) error {
	if len(fields) == 0 || len(rows) == 0 {
		return nil
	}
	tenant := rows[0].Tenant
	w.knownMu.Lock()
	if n, ok := w.counts[tenant]; ok && n >= MaxDiscoveredFields {
		w.knownMu.Unlock()
		return nil // full: do not take the exclusive lock for nothing
	}
	var fresh []model.Field
	for _, f := range fields {
		if !w.known[tenant+"\x00"+f.Name] {
			fresh = append(fresh, f)
		}
	}
	w.knownMu.Unlock()
	if len(fresh) == 0 {
		return nil
	}
	w.exclusive.Lock()
	defer w.exclusive.Unlock()
	w.knownMu.Lock()
	defer w.knownMu.Unlock()
	n, ok := w.counts[tenant]
	if !ok {
		if err := l.conn.QueryRowContext(context.Background(), `SELECT count(*) FROM discovered_fields WHERE tenant = ?`, tenant).Scan(&n); err != nil {
			return fmt.Errorf("cannot count discovered fields: %w", err)
		}
	}
	now := time.Now().UnixMilli()
	for _, f := range fresh {
		k := tenant + "\x00" + f.Name
		if w.known[k] {
			continue
		}
		if n >= MaxDiscoveredFields {
			// Past the cap the values are still stored in the documents;
			// the names are just not listed or queryable as fields.
			break
		}
		n++
		_, err := l.conn.ExecContext(context.Background(),
			`INSERT INTO discovered_fields (tenant, name, type, first_seen) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			tenant, f.Name, string(f.Type), now)
		if err != nil {
			return fmt.Errorf("cannot record discovered field %q: %w", f.Name, err)
		}
		w.known[k] = true
	}
	w.counts[tenant] = n
	return nil
}

// MaxDiscoveredFields bounds the fields discovery lists for one tenant, so
// that sources sending random keys cannot grow every tenant's registry (and
// each query's field resolution) without bound.
const MaxDiscoveredFields = 10_000
