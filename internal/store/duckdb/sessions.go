package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	duck "github.com/duckdb/duckdb-go/v2"

	"github.com/seshatsec/seshat/internal/model"
	"github.com/seshatsec/seshat/internal/query"
	"github.com/seshatsec/seshat/internal/store"
)

// Dialect is DuckDB's SQL for the query compiler.
type Dialect struct{}

var _ query.Dialect = Dialect{}

// jsonPath quotes a field name as a JSON path member. Names were checked
// against query.SafeFieldName, so they hold no quote or backslash; the
// escaping is a second line of defence, not the first.
func jsonPath(key, suffix string) string {
	key = strings.NewReplacer(`\`, `\\`, `"`, `\"`, `'`, `''`).Replace(key)
	return `'$."` + key + `"` + suffix + `'`
}

func (Dialect) AttrText(key string) string {
	return "json_extract_string(attrs, " + jsonPath(key, "") + ")"
}
func (Dialect) AttrNumber(key string) string {
	return "TRY_CAST(json_extract_string(attrs, " + jsonPath(key, "") + ") AS DOUBLE)"
}
func (Dialect) AttrTexts(key string) string {
	return "json_extract_string(attrs, " + jsonPath(key, "[*]") + ")"
}
func (Dialect) AttrNumbers(key string) string {
	return "list_transform(json_extract_string(attrs, " + jsonPath(key, "[*]") + "), lambda e: TRY_CAST(e AS DOUBLE))"
}
func (Dialect) AttrExists(key string) string { return "json_exists(attrs, " + jsonPath(key, "") + ")" }
func (Dialect) Like(expr string) string      { return "(" + expr + " LIKE ? ESCAPE '\\')" }
func (Dialect) Regex(expr string) string     { return "regexp_matches(" + expr + ", ?)" }
func (Dialect) AnyElement(list string, pred func(string) string) string {
	return "(len(list_filter(" + list + ", lambda e: " + pred("e") + ")) > 0)"
}
func (Dialect) ListLen(list string) string { return "len(" + list + ")" }
func (Dialect) Unnest(list string) string  { return "unnest(" + list + ")" }

var builder = store.SQL{D: Dialect{}}

// bind adapts arguments for the driver: database/sql refuses uint64 values
// with the high bit set (IPv6 address halves often have it), so they are
// passed as typed UBIGINT values.
func bind(args []any) []any {
	for i, a := range args {
		if u, ok := a.(uint64); ok {
			args[i] = duck.Typed(u, duck.TYPE_UBIGINT)
		}
	}
	return args
}

// Append writes rows through the writer and returns once they are committed.
func (db *DB) Append(ctx context.Context, rows []store.Row, discovered []model.Field) error {
	if len(rows) == 0 {
		return nil
	}
	return db.writer.submit(ctx, op{rows: rows, discovered: discovered})
}

// Exec runs a write statement through the writer (updates, deletes), so it
// never races the appender.
func (db *DB) Exec(ctx context.Context, stmt string, args ...any) (int64, error) {
	var n int64
	err := db.writer.submit(ctx, op{exec: func(ctx context.Context, conn *sql.Conn) error {
		res, err := conn.ExecContext(ctx, stmt, args...)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		return nil
	}})
	return n, err
}

// Search returns one page of sessions.
func (db *DB) Search(ctx context.Context, req store.SearchRequest) (store.SearchResult, error) {
	var res store.SearchResult
	pageSQL, args, countSQL, countArgs, err := builder.Search(req)
	if err != nil {
		return res, err
	}
	rows, err := db.read.QueryContext(ctx, pageSQL, bind(args)...)
	if err != nil {
		return res, fmt.Errorf("cannot search sessions: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return res, err
	}
	proj := store.ProjectionFor(req.Registry, req.Fields)
	n := proj.ScanCount()
	var lastKeys []any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return res, fmt.Errorf("cannot read session: %w", err)
		}
		if len(res.Items) == req.Limit {
			// One row past the page proves there is a next page.
			res.NextCursor, err = store.NextCursor(req.Order, req.Registry, lastKeys)
			if err != nil {
				return res, err
			}
			break
		}
		s, err := proj.Decode(vals[:n])
		if err != nil {
			return res, err
		}
		res.Items = append(res.Items, s)
		lastKeys = vals[n:]
	}
	if err := rows.Err(); err != nil {
		return res, fmt.Errorf("cannot search sessions: %w", err)
	}
	if countSQL != "" {
		var total int64
		if err := db.read.QueryRowContext(ctx, countSQL, bind(countArgs)...).Scan(&total); err != nil {
			return res, fmt.Errorf("cannot count sessions: %w", err)
		}
		res.Total = &total
	}
	return res, nil
}

// Get returns one session of the tenant.
func (db *DB) Get(ctx context.Context, tenant, id string, reg *model.Registry) (store.Session, error) {
	proj := store.FullProjection(reg)
	vals := make([]any, proj.ScanCount())
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	err := db.read.QueryRowContext(ctx, "SELECT "+proj.SQL()+" FROM sessions WHERE tenant = ? AND id = ? LIMIT 1", tenant, id).Scan(ptrs...)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Session{}, store.ErrNotFound
	}
	if err != nil {
		return store.Session{}, fmt.Errorf("cannot read session: %w", err)
	}
	return proj.Decode(vals)
}

// Counts returns the top values of each requested field.
func (db *DB) Counts(ctx context.Context, req store.CountsRequest) ([]store.FieldCounts, error) {
	out := make([]store.FieldCounts, 0, len(req.Fields))
	for _, f := range req.Fields {
		top, targs, totals, totArgs, err := builder.CountQueries(req, f)
		if err != nil {
			return nil, err
		}
		fc := store.FieldCounts{Field: f.Name, Buckets: []store.Bucket{}}
		rows, err := db.read.QueryContext(ctx, top, bind(targs)...)
		if err != nil {
			return nil, fmt.Errorf("cannot count %s: %w", f.Name, err)
		}
		var inTop int64
		for rows.Next() {
			cols, _ := rows.Columns()
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return nil, fmt.Errorf("cannot count %s: %w", f.Name, err)
			}
			n, _ := vals[len(vals)-1].(int64)
			fc.Buckets = append(fc.Buckets, store.Bucket{Value: store.BucketValue(f, vals[:len(vals)-1]), Count: n})
			inTop += n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("cannot count %s: %w", f.Name, err)
		}
		var a, b int64
		if err := db.read.QueryRowContext(ctx, totals, bind(totArgs)...).Scan(&a, &b); err != nil {
			return nil, fmt.Errorf("cannot total %s: %w", f.Name, err)
		}
		if f.Type.IsList() {
			fc.Missing, fc.Other = a, b-inTop
		} else {
			fc.Missing, fc.Other = a-b, b-inTop
		}
		out = append(out, fc)
	}
	return out, nil
}

// Discovered lists the tenant's discovered fields.
func (db *DB) Discovered(ctx context.Context, tenant string) ([]model.Field, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT name, type FROM discovered_fields WHERE tenant = ? ORDER BY name`, tenant)
	if err != nil {
		return nil, fmt.Errorf("cannot list discovered fields: %w", err)
	}
	defer rows.Close()
	var out []model.Field
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return nil, err
		}
		out = append(out, model.Field{Name: name, Type: model.Type(typ), Group: "discovered",
			Description: "Sent by a source; not in the built-in registry.", Discovered: true})
	}
	return out, rows.Err()
}

// CreateKey stores a key (hash only).
func (db *DB) CreateKey(ctx context.Context, k store.Key) error {
	_, err := db.Exec(ctx, `INSERT INTO api_keys (id, tenant, role, name, hash, bootstrap, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.Tenant, k.Role, k.Name, k.Hash, k.Bootstrap, k.CreatedAt)
	if err != nil {
		return fmt.Errorf("cannot store key: %w", err)
	}
	return nil
}

// Keys lists every key that is not revoked.
func (db *DB) Keys(ctx context.Context) ([]store.Key, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT id, tenant, role, name, hash, bootstrap, created_at FROM api_keys WHERE revoked_at IS NULL ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("cannot list keys: %w", err)
	}
	defer rows.Close()
	var out []store.Key
	for rows.Next() {
		var k store.Key
		if err := rows.Scan(&k.ID, &k.Tenant, &k.Role, &k.Name, &k.Hash, &k.Bootstrap, &k.CreatedAt); err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// RevokeKey marks a key of the tenant revoked ("" tenant: any tenant).
func (db *DB) RevokeKey(ctx context.Context, tenant, id string) error {
	stmt := `UPDATE api_keys SET revoked_at = epoch_ms(now()) WHERE id = ? AND revoked_at IS NULL`
	args := []any{id}
	if tenant != "" {
		stmt += " AND tenant = ?"
		args = append(args, tenant)
	}
	n, err := db.Exec(ctx, stmt, args...)
	if err != nil {
		return fmt.Errorf("cannot revoke key: %w", err)
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// CreateTenant records a tenant; creating an existing one is not an error.
func (db *DB) CreateTenant(ctx context.Context, name string) error {
	_, err := db.Exec(ctx, `INSERT INTO tenants (name, created_at) VALUES (?, epoch_ms(now())) ON CONFLICT DO NOTHING`, name)
	if err != nil && !strings.Contains(err.Error(), "Duplicate") {
		return fmt.Errorf("cannot create tenant: %w", err)
	}
	return nil
}

// TenantExists reports whether a tenant was created.
func (db *DB) TenantExists(ctx context.Context, name string) (bool, error) {
	var n int
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM tenants WHERE name = ?`, name).Scan(&n); err != nil {
		return false, fmt.Errorf("cannot look up tenant: %w", err)
	}
	return n > 0, nil
}
