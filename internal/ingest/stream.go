package ingest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/seshatsec/seshat/internal/model"
)

// ReasonLineTooLong is the rejection reason of a line longer than a line
// reader's maximum.
const ReasonLineTooLong = "line too long"

// LineError is why one record of a line-oriented log (Zeek, Suricata EVE)
// was rejected, or why decoding of the log stopped.
type LineError struct {
	Line   int    `json:"line"` // 1-based line of the (decompressed) input
	Reason string `json:"reason"`
	Detail string `json:"message"`
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Detail) }

// StreamResult counts what a log stream held: records received, accepted
// (rows, and alerts for formats that carry them) and rejected by reason,
// with the first rejections in detail.
type StreamResult struct {
	Received int `json:"received"`
	Accepted int `json:"accepted"`
	// Alerts counts the accepted records that were alerts rather than
	// sessions (Suricata EVE alert events).
	Alerts   int            `json:"alerts,omitempty"`
	Rejected map[string]int `json:"rejected"`
	// Errors details the first rejected records (at most MaxErrors).
	Errors []LineError `json:"errors,omitempty"`
	// Stopped is set when decoding could not go on (a header that makes the
	// rest unreadable, a read or decompression error); nothing after Line
	// was read.
	Stopped *LineError `json:"stopped,omitempty"`
}

// Reject counts one rejected record.
func (r *StreamResult) Reject(line int, e *DocError) {
	if r.Rejected == nil {
		r.Rejected = map[string]int{}
	}
	r.Rejected[e.Reason]++
	if len(r.Errors) < MaxErrors {
		r.Errors = append(r.Errors, LineError{Line: line, Reason: e.Reason, Detail: e.Detail})
	}
}

// Decompress returns a reader of r's content, inflated when it starts with
// the gzip magic bytes (concatenated gzip members, as rotated logs joined by
// cat are, read as one stream). Plain input is returned as it is.
func Decompress(r io.Reader) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, err := br.Peek(2)
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("cannot read input: %w", err)
	}
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("cannot read gzip input: %w", err)
		}
		return zr, nil
	}
	return br, nil
}

// LineReader reads a stream line by line in constant memory: a line longer
// than the maximum is reported (and skipped) instead of being buffered.
type LineReader struct {
	br   *bufio.Reader
	max  int
	line int
	err  error
}

// NewLineReader reads r with lines of at most maxLine bytes.
func NewLineReader(r io.Reader, maxLine int) *LineReader {
	if maxLine < 64 {
		maxLine = 64
	}
	// The buffer may come out larger than asked for (r may already be a
	// large bufio.Reader): the maximum is checked on each line as well.
	return &LineReader{br: bufio.NewReaderSize(r, maxLine+2), max: maxLine} // room for "\r\n"
}

// Line is the 1-based number of the line Next returned last.
func (l *LineReader) Line() int { return l.line }

// Next returns the next line without its line ending. The slice is valid
// until the following call. tooLong reports a line over the maximum, whose
// content is skipped. At the end of the input err is io.EOF; any other error
// (a truncated gzip stream, say) ends reading, and a partial last line
// before it is dropped rather than decoded.
func (l *LineReader) Next() (line []byte, tooLong bool, err error) {
	if l.err != nil {
		return nil, false, l.err
	}
	b, err := l.br.ReadSlice('\n')
	switch err {
	case nil:
		l.line++
		if b = trimEOL(b); len(b) > l.max {
			return nil, true, nil
		}
		return b, false, nil
	case bufio.ErrBufferFull:
		l.line++
		for err == bufio.ErrBufferFull {
			_, err = l.br.ReadSlice('\n')
		}
		if err != nil {
			l.err = err // reported by the next call
		}
		return nil, true, nil
	case io.EOF:
		l.err = io.EOF
		if len(b) == 0 {
			return nil, false, io.EOF
		}
		l.line++
		if b = trimEOL(b); len(b) > l.max {
			return nil, true, nil
		}
		return b, false, nil
	default:
		l.err = err
		return nil, false, err
	}
}

func trimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte{'\n'})
	return bytes.TrimSuffix(b, []byte{'\r'})
}

// StreamConfig configures a line-oriented log decoder (Zeek, EVE).
type StreamConfig struct {
	Tenant   string
	Registry *model.Registry // nil: model.Default
	Limits   Limits          // zero fields: DefaultLimits
	// MaxLineBytes bounds one line, that is one record or event (a longer
	// one is rejected); 0 means Limits.MaxDocBytes.
	MaxLineBytes int
	Now          func() time.Time // nil: time.Now; for the future-time check
}
