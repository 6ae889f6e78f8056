package exec

import (
	"errors"
	"io"
	"strings"
	"sync"
	"unicode/utf8"
)

// truncationMark starts a tail that lost its beginning. It counts towards MaxTail.
const truncationMark = "…"

// tailWriter is an io.Writer that keeps only the last MaxTail bytes written to it.
//
// It buffers up to 2*MaxTail bytes and compacts only when that fills, so a large output costs
// one copy per MaxTail bytes written, and the buffer never grows past 2*MaxTail. It is safe for
// concurrent use: client-go's copy goroutines may still write after Exec has taken the tail.
type tailWriter struct {
	mu      sync.Mutex
	buf     []byte
	dropped bool // some bytes were written and are no longer in buf
}

func newTailWriter() *tailWriter {
	return &tailWriter{buf: make([]byte, 0, 2*MaxTail)}
}

// Write keeps the tail of p; it never fails.
func (w *tailWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	if n >= MaxTail {
		// Nothing written before can survive, and only p's last MaxTail bytes.
		w.dropped = w.dropped || len(w.buf) > 0 || n > MaxTail
		w.buf = append(w.buf[:0], p[n-MaxTail:]...)
		return n, nil
	}
	if len(w.buf)+n > 2*MaxTail {
		// Keep exactly the MaxTail-n bytes that, with p, make the last MaxTail bytes.
		keep := MaxTail - n
		w.buf = append(w.buf[:0], w.buf[len(w.buf)-keep:]...)
		w.dropped = true
	}
	w.buf = append(w.buf, p...)
	return n, nil
}

// ReadFrom copies r into the tail until EOF. io.Copy (client-go copies each output stream with it)
// uses it instead of allocating its 32 KiB buffer: a tail never needs more than MaxTail bytes at a time,
// and with hundreds of execs in flight those buffers were much of the operator's memory.
func (w *tailWriter) ReadFrom(r io.Reader) (int64, error) {
	var buf [MaxTail]byte
	var total int64
	for {
		n, err := r.Read(buf[:])
		if n > 0 {
			_, _ = w.Write(buf[:n])
			total += int64(n)
		}
		if errors.Is(err, io.EOF) {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// String returns at most MaxTail bytes of valid UTF-8: the end of what was written, cut at a rune
// boundary and prefixed with truncationMark when its beginning is missing.
func (w *tailWriter) String() string {
	w.mu.Lock()
	b, dropped := w.buf, w.dropped
	if dropped {
		// A cut can land inside a rune: skip its continuation bytes (a rune has at most 3).
		for i := 0; i < utf8.UTFMax-1 && len(b) > 0 && !utf8.RuneStart(b[0]); i++ {
			b = b[1:]
		}
	}
	// Invalid bytes become U+FFFD, which can make s longer than b.
	s := strings.ToValidUTF8(string(b), string(utf8.RuneError))
	w.mu.Unlock()

	if !dropped && len(s) <= MaxTail {
		return s
	}
	start := max(len(s)-(MaxTail-len(truncationMark)), 0)
	for start < len(s) && !utf8.RuneStart(s[start]) {
		start++
	}
	return truncationMark + s[start:]
}
