package importer

import (
	"bytes"
	"fmt"
	"io"

	"github.com/seshatsec/seshat/internal/ingest"
)

// DefaultChunkBytes is the size of the chunks a file is cut into: under the
// server's 10 MB body limit even when sent uncompressed, and few enough
// rows (tens of thousands) for one commit.
const DefaultChunkBytes = 8 << 20

// ReasonLineTooLong is the rejection reason of a line longer than a chunk;
// such a line is not sent.
const ReasonLineTooLong = ingest.ReasonLineTooLong

// ChunkData is one chunk of a file.
type ChunkData struct {
	Data []byte
	// HeaderLines counts the Zeek TSV header lines re-sent at the start of
	// Data (0 in the first chunk, which has the file's own).
	HeaderLines int
	// FirstLine is the file line of Data's first line after those.
	FirstLine int
	// Bytes is how far into the (decompressed) file the chunk ends.
	End int64
}

// FileLine maps a line of the chunk (as a decoder numbers it, 1-based) to
// the line of the file; re-sent header lines map to 0.
func (c *ChunkData) FileLine(line int) int {
	if line <= c.HeaderLines {
		return 0
	}
	return c.FirstLine + line - c.HeaderLines - 1
}

// Splitter cuts a decompressed log into chunks of whole lines, in constant
// memory (one chunk and one line at a time).
type Splitter struct {
	lr       *ingest.LineReader
	format   ingest.Format
	max      int
	header   []byte // the current Zeek TSV header block
	nheader  int
	inHeader bool
	pending  []byte // a line read that did not fit the previous chunk
	hasPend  bool
	pendLine int
	started  bool
	err      error
	read     int64
	// TooLong lists the lines (at most ingest.MaxErrors) longer than a
	// chunk, and TooLongCount counts them; they are replaced by empty lines
	// so that line numbers stay right.
	TooLong      []int
	TooLongCount int
}

// NewSplitter cuts r, a log in format, into chunks of at most max bytes
// (DefaultChunkBytes when max <= 0).
func NewSplitter(r io.Reader, format ingest.Format, max int) *Splitter {
	if max <= 0 {
		max = DefaultChunkBytes
	}
	return &Splitter{lr: ingest.NewLineReader(r, max), format: format, max: max}
}

// Next returns the next chunk; io.EOF after the last one. A read error (a
// truncated gzip stream) is returned after the chunk of the lines before it.
func (s *Splitter) Next() (ChunkData, error) {
	if s.err != nil && !s.hasPend {
		return ChunkData{}, s.err
	}
	buf := make([]byte, 0, min(s.max, 1<<20))
	c := ChunkData{}
	if s.format == ingest.FormatZeekTSV && s.started && len(s.header) > 0 {
		buf = append(buf, s.header...)
		c.HeaderLines = s.nheader
	}
	s.started = true
	data := 0 // data lines in this chunk, beside re-sent headers
	for {
		var line []byte
		var n int
		if s.hasPend {
			line, n = s.pending, s.pendLine
			s.hasPend = false
		} else {
			if s.err != nil {
				break
			}
			l, tooLong, err := s.lr.Next()
			if err != nil {
				if err != io.EOF {
					err = fmt.Errorf("cannot read line %d: %w", s.lr.Line()+1, err)
				}
				s.err = err
				break
			}
			n = s.lr.Line()
			s.read += int64(len(l)) + 1
			if tooLong {
				s.TooLongCount++
				if len(s.TooLong) < ingest.MaxErrors {
					s.TooLong = append(s.TooLong, n)
				}
				l = nil // an empty line keeps the numbering
			}
			line = l
		}
		if data > 0 && len(buf)+len(line)+1 > s.max {
			s.pending = append(s.pending[:0], line...)
			s.pendLine, s.hasPend = n, true
			break
		}
		if data == 0 {
			c.FirstLine = n
		}
		if s.format == ingest.FormatZeekTSV {
			if len(line) > 0 && line[0] == '#' {
				if !s.inHeader {
					s.header, s.nheader, s.inHeader = s.header[:0], 0, true
				}
				s.header = append(append(s.header, line...), '\n')
				s.nheader++
			} else if len(bytes.TrimSpace(line)) > 0 {
				s.inHeader = false
			}
		}
		buf = append(append(buf, line...), '\n')
		data++
	}
	c.End = s.read
	if data == 0 {
		if s.err == nil {
			s.err = io.EOF
		}
		return ChunkData{}, s.err
	}
	c.Data = buf
	return c, nil
}
