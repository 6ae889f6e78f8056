/*
Copyright 2026 The restore-hook-operator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package controllers

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestElide(t *testing.T) {
	long := "exec in ns/pod container \"main\": cmd start: /bin/sh -c " + strings.Repeat("日x", 5000) + ": argument list too long"
	tests := map[string]struct {
		s          string
		n          int
		want       string
		wantPrefix string
		wantSuffix string
	}{
		"short untouched":       {s: "abc", n: 10, want: "abc"},
		"exactly n untouched":   {s: "abcde", n: 5, want: "abcde"},
		"head and tail kept":    {s: "0123456789abcdefghij", n: 11, want: "012 … hij"},
		"cause survives a bulk": {s: long, n: 1024, wantPrefix: "exec in ns/pod container", wantSuffix: ": argument list too long"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := elide(tc.s, tc.n)
			if len(got) > tc.n || !utf8.ValidString(got) {
				t.Errorf("elide gave %d bytes (valid UTF-8: %t), want at most %d", len(got), utf8.ValidString(got), tc.n)
			}
			if tc.want != "" && got != tc.want {
				t.Errorf("elide(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
			}
			if !strings.HasPrefix(got, tc.wantPrefix) || !strings.HasSuffix(got, tc.wantSuffix) {
				t.Errorf("elide kept %.80q … %.80q", got, got[max(len(got)-80, 0):])
			}
		})
	}
}
