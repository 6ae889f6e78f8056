package exec

import (
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func TestTailWriter(t *testing.T) {
	// pattern is distinguishable at every position, so a wrong cut shows.
	pattern := func(n int) string {
		var b strings.Builder
		for i := 0; b.Len() < n; i++ {
			b.WriteByte("0123456789abcdefghijklmnopqrstuvwxyz"[i%36])
		}
		return b.String()[:n]
	}
	budget := MaxTail - len(truncationMark)
	long := pattern(5000)

	tests := map[string]struct {
		writes []string
		want   string
	}{
		"nothing written": {
			writes: nil,
			want:   "",
		},
		"short": {
			writes: []string{"hello\n", "world\n"},
			want:   "hello\nworld\n",
		},
		"exactly the cap in one write": {
			writes: []string{pattern(MaxTail)},
			want:   pattern(MaxTail),
		},
		"exactly the cap across writes": {
			writes: []string{pattern(MaxTail)[:500], pattern(MaxTail)[500:]},
			want:   pattern(MaxTail),
		},
		"one byte over the cap": {
			writes: []string{pattern(MaxTail + 1)},
			want:   truncationMark + pattern(MaxTail + 1)[MaxTail+1-budget:],
		},
		"over the cap in one write": {
			writes: []string{long},
			want:   truncationMark + long[len(long)-budget:],
		},
		"over the cap after a short write": {
			writes: []string{"head", pattern(MaxTail)},
			want:   truncationMark + pattern(MaxTail)[MaxTail-budget:],
		},
		"over the cap across many writes": {
			writes: chunks(long, 7),
			want:   truncationMark + long[len(long)-budget:],
		},
		"over the cap across writes that each fill the buffer": {
			writes: chunks(long, MaxTail-1),
			want:   truncationMark + long[len(long)-budget:],
		},
		"3-byte rune cut by the budget": {
			// 1200 bytes; the last 1021 begin with the final byte of a "€".
			writes: []string{strings.Repeat("€", 400)},
			want:   truncationMark + strings.Repeat("€", 340),
		},
		"3-byte rune cut by the buffer": {
			// The buffer keeps 1024 bytes, which begin with the last byte of a "€".
			writes: []string{"x" + strings.Repeat("€", 700)},
			want:   truncationMark + strings.Repeat("€", 340),
		},
		"runes split across writes": {
			writes: append(chunks(strings.Repeat("€", 400), 2), "!"),
			want:   truncationMark + strings.Repeat("€", 340) + "!",
		},
		"4-byte rune cut": {
			writes: []string{strings.Repeat("😀", 300)},
			want:   truncationMark + strings.Repeat("😀", 255),
		},
		"invalid UTF-8 is replaced": {
			writes: []string{"a\xffb"},
			want:   "a\uFFFDb",
		},
		"invalid UTF-8 that grows past the cap": {
			// 1000 bytes, 2000 once each \xff is U+FFFD.
			writes: []string{strings.Repeat("\xffa", 500)},
			want:   truncationMark + "a" + strings.Repeat("\uFFFDa", 255),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			w := newTailWriter()
			for _, s := range tc.writes {
				n, err := w.Write([]byte(s))
				if n != len(s) || err != nil {
					t.Fatalf("Write(%d bytes) = %d, %v; want %d, nil", len(s), n, err, len(s))
				}
			}
			got := w.String()
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("String() mismatch (-want +got):\n%s", diff)
			}
			if len(got) > MaxTail {
				t.Errorf("String() is %d bytes, want at most %d", len(got), MaxTail)
			}
			if !utf8.ValidString(got) {
				t.Errorf("String() is not valid UTF-8: %q", got)
			}
			if c := cap(w.buf); c > 2*MaxTail {
				t.Errorf("buffer capacity %d, want at most %d", c, 2*MaxTail)
			}
		})
	}
}

func TestTailWriterLargeOutputStaysBounded(t *testing.T) {
	w := newTailWriter()
	chunk := []byte(strings.Repeat("y", 4096))
	allocs := testing.AllocsPerRun(10, func() {
		for range 256 { // 1 MiB
			_, _ = w.Write(chunk)
		}
	})
	if allocs > 0 {
		t.Errorf("writing 1 MiB allocated %.0f times, want 0", allocs)
	}
	if c := cap(w.buf); c > 2*MaxTail {
		t.Errorf("buffer capacity %d, want at most %d", c, 2*MaxTail)
	}
	if got, want := w.String(), truncationMark+strings.Repeat("y", MaxTail-len(truncationMark)); got != want {
		t.Errorf("String() = %q..., want %q...", got[:10], want[:10])
	}
}

// chunks splits s into pieces of n bytes, cutting through runes on purpose.
func chunks(s string, n int) []string {
	var out []string
	for len(s) > n {
		out = append(out, s[:n])
		s = s[n:]
	}
	return append(out, s)
}

// client-go copies output with io.Copy, which uses the tail's ReadFrom: it must keep what Write keeps.
func TestTailWriterReadFrom(t *testing.T) {
	for _, n := range []int{0, 5, MaxTail - 1, MaxTail, MaxTail + 1, 3*MaxTail + 17, 100 * 1024} {
		data := strings.Repeat("0123456789abcdefé", n/18+1)[:n]
		viaWrite, viaCopy := newTailWriter(), newTailWriter()
		_, _ = viaWrite.Write([]byte(data))
		copied, err := io.Copy(viaCopy, iotest.HalfReader(strings.NewReader(data)))
		if err != nil || copied != int64(n) {
			t.Errorf("%d bytes: io.Copy = %d, %v", n, copied, err)
		}
		if got, want := viaCopy.String(), viaWrite.String(); got != want {
			t.Errorf("%d bytes: tail via io.Copy %q, via Write %q", n, got, want)
		}
	}
}
