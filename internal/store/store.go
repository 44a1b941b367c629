// Package store defines what Seshat needs from a storage engine and the SQL
// that every engine shares. Engines live in sub-packages (duckdb, and
// clickhouse for scale-out); they differ only through a query.Dialect.
package store

import (
	"context"
	"errors"

	"github.com/seshatsec/seshat/internal/model"
	"github.com/seshatsec/seshat/internal/query"
)

// ErrNotFound is returned when a session, key or tenant does not exist (or
// belongs to another tenant, which callers must not be able to tell apart).
var ErrNotFound = errors.New("not found")

// ErrClosed is returned for writes submitted after the store began to stop.
var ErrClosed = errors.New("store is closed")

// ErrBusy is returned when the writer's queue stayed full for as long as the
// caller was willing to wait; nothing of the write was queued. The API turns
// it into 429 with Retry-After.
var ErrBusy = errors.New("the store is behind on writes")

// Row is one session, normalized and validated, ready to be written.
type Row struct {
	Tenant string
	ID     string
	// Cols holds the values of model.Default.Columns(), in that order; nil is
	// NULL. Go types by field type: string; int64 (integer, time in epoch
	// milliseconds); netip.Addr (ip); []string (string[]).
	Cols []any
	// Attrs is a JSON object of the session's other fields, flat, keyed by
	// canonical (or discovered) dotted name. Nil when there are none.
	Attrs []byte
}

// Session is a stored session as read back: its fields by canonical name.
type Session struct {
	ID     string
	Fields map[string]any
}

// TimeRange selects sessions overlapping [Start, End] (epoch ms); zero
// bounds are open.
type TimeRange struct {
	Start, End int64
}

// Order is one sort key.
type Order struct {
	Field *model.Field // must have a column
	Desc  bool
}

// SearchRequest asks for one page of sessions.
type SearchRequest struct {
	Tenant   string
	Registry *model.Registry // the tenant's view: built-in plus discovered fields
	Filter   query.Expr      // nil for all
	Range    TimeRange
	Order    []Order // empty: firstPacket descending
	Limit    int
	Cursor   string // opaque, from a previous SearchResult
	Fields   []string
	Count    bool
}

// SearchResult is one page.
type SearchResult struct {
	Items      []Session
	NextCursor string // empty on the last page
	Total      *int64 // set when the request asked for a count
}

// CountsRequest asks for the top values of some fields.
type CountsRequest struct {
	Tenant   string
	Registry *model.Registry
	Filter   query.Expr
	Range    TimeRange
	Fields   []*model.Field
	Size     int
}

// Bucket is one value and how many sessions have it.
type Bucket struct {
	Value any   `json:"value"`
	Count int64 `json:"count"`
}

// FieldCounts is the top values of one field.
type FieldCounts struct {
	Field   string   `json:"field"`
	Buckets []Bucket `json:"buckets"`
	// Other counts the values (for list fields: value occurrences) outside
	// the top buckets; Missing counts sessions without the field.
	Other   int64 `json:"other"`
	Missing int64 `json:"missing"`
}

// Key is a stored API key. The secret itself is never stored, only its hash.
type Key struct {
	ID        string `json:"id"`
	Tenant    string `json:"tenant"`
	Role      string `json:"role"`
	Name      string `json:"name"`
	Hash      string `json:"-"`
	CreatedAt int64  `json:"-"`
	Bootstrap bool   `json:"bootstrap,omitempty"`
}

// Sessions stores and searches sessions.
type Sessions interface {
	// Append writes rows and returns once they are durable.
	Append(ctx context.Context, rows []Row, discovered []model.Field) error
	Search(ctx context.Context, req SearchRequest) (SearchResult, error)
	Get(ctx context.Context, tenant, id string, reg *model.Registry) (Session, error)
	Counts(ctx context.Context, req CountsRequest) ([]FieldCounts, error)
	// Discovered lists the fields a tenant's sources sent that the registry
	// does not know.
	Discovered(ctx context.Context, tenant string) ([]model.Field, error)
}

// Keys stores API keys and tenants.
type Keys interface {
	CreateKey(ctx context.Context, k Key) error
	Keys(ctx context.Context) ([]Key, error)
	RevokeKey(ctx context.Context, tenant, id string) error
	CreateTenant(ctx context.Context, name string) error
	TenantExists(ctx context.Context, name string) (bool, error)
}

// Store is a whole storage engine.
type Store interface {
	Sessions
	Keys
	// Ready reports whether the engine can take writes now.
	Ready() error
	Close() error
}
