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

package hook

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
)

const testMaxWait = 7 * time.Minute

func TestParseCommand(t *testing.T) {
	tests := map[string]struct {
		value   string
		want    []string
		wantErr string
	}{
		"JSON array":                       {value: `["/bin/sh","-c","date"]`, want: []string{"/bin/sh", "-c", "date"}},
		"JSON array with spaces":           {value: `["a", "b", "c"]`, want: []string{"a", "b", "c"}},
		"JSON array with unicode":          {value: `["echo","héllo ✓","\u00e9"]`, want: []string{"echo", "héllo ✓", "é"}},
		"empty JSON array":                 {value: `[]`, want: []string{}},
		"plain string is one element":      {value: `/bin/sh -c date`, want: []string{"/bin/sh -c date"}},
		"leading space is not JSON":        {value: ` ["a"]`, want: []string{` ["a"]`}},
		"trailing space kept verbatim":     {value: "date ", want: []string{"date "}},
		"empty value is no command":        {value: "", want: nil},
		"unterminated array is an error":   {value: `[foobarbaz`, wantErr: "not a JSON array of strings"},
		"array of numbers is an error":     {value: `[1,2]`, wantErr: "not a JSON array of strings"},
		"null element is an error":         {value: `["a",null]`, wantErr: "element 1 of the JSON array is null"},
		"trailing garbage is an error":     {value: `["a"] x`, wantErr: "not a JSON array of strings"},
		"array of empty string is allowed": {value: `[""]`, want: []string{""}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseCommand(tc.value)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseCommand(%q) error = %v, want one containing %q", tc.value, err, tc.wantErr)
				}
				if got != nil {
					t.Errorf("ParseCommand(%q) = %q alongside an error, want nil", tc.value, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseCommand(%q) unexpected error: %v", tc.value, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseCommand(%q) mismatch (-want +got):\n%s", tc.value, diff)
			}
		})
	}
}

// wantProblem describes an expected Problem: its reason and fragments its message must contain (the
// key and the quoted offending value).
type wantProblem struct {
	reason   v1alpha1.HookReason
	contains []string
}

func checkProblem(t *testing.T, got *Problem, want *wantProblem) {
	t.Helper()
	if want == nil {
		if got != nil {
			t.Fatalf("unexpected problem: %+v", *got)
		}
		return
	}
	if got == nil {
		t.Fatalf("no problem, want reason %s", want.reason)
	}
	if got.Reason != want.reason {
		t.Errorf("problem reason = %s, want %s (message %q)", got.Reason, want.reason, got.Message)
	}
	for _, s := range want.contains {
		if !strings.Contains(got.Message, s) {
			t.Errorf("problem message %q does not contain %q", got.Message, s)
		}
	}
	if len(got.Message) > MaxMessageLen {
		t.Errorf("problem message is %d bytes, want at most %d", len(got.Message), MaxMessageLen)
	}
}

func invalid(contains ...string) *wantProblem {
	return &wantProblem{reason: v1alpha1.ReasonInvalidAnnotation, contains: contains}
}

func TestParseExecAnnotations(t *testing.T) {
	// defaults is the hook a bare command annotation declares.
	defaults := func(edit func(*ExecAnnotation)) ExecAnnotation {
		h := ExecAnnotation{
			Command:     []string{"date"},
			OnError:     v1alpha1.HookErrorModeContinue,
			ExecTimeout: DefaultExecTimeout,
			WaitTimeout: testMaxWait,
		}
		if edit != nil {
			edit(&h)
		}
		return h
	}
	cmd := func(kv ...string) map[string]string {
		m := map[string]string{ExecCommandAnnotation: "date"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := map[string]struct {
		annotations  map[string]string
		wantDeclared bool
		want         ExecAnnotation
		wantProblem  *wantProblem
	}{
		// Trigger.
		"no annotations":              {annotations: nil},
		"empty command is no hook":    {annotations: map[string]string{ExecCommandAnnotation: "", ExecContainerAnnotation: "db"}},
		"container without a command": {annotations: map[string]string{ExecContainerAnnotation: "db", ExecOnErrorAnnotation: "Fail"}},
		"command alone takes every default": {
			annotations: cmd(), wantDeclared: true, want: defaults(nil),
		},
		// Command.
		"JSON command": {
			annotations: map[string]string{ExecCommandAnnotation: `["/bin/sh","-c","echo hi"]`}, wantDeclared: true,
			want: defaults(func(h *ExecAnnotation) { h.Command = []string{"/bin/sh", "-c", "echo hi"} }),
		},
		"invalid JSON command": {
			annotations: map[string]string{ExecCommandAnnotation: `["a",`}, wantDeclared: true,
			want:        defaults(func(h *ExecAnnotation) { h.Command = nil }),
			wantProblem: invalid(ExecCommandAnnotation, `"[\"a\","`),
		},
		"empty JSON command": {
			annotations: map[string]string{ExecCommandAnnotation: `[]`}, wantDeclared: true,
			want:        defaults(func(h *ExecAnnotation) { h.Command = nil }),
			wantProblem: invalid(ExecCommandAnnotation, `"[]"`, "command is empty"),
		},
		// Container.
		"container verbatim": {
			annotations: cmd(ExecContainerAnnotation, "db"), wantDeclared: true,
			want: defaults(func(h *ExecAnnotation) { h.Container = "db" }),
		},
		// on-error.
		"on-error Fail": {
			annotations: cmd(ExecOnErrorAnnotation, "Fail"), wantDeclared: true,
			want: defaults(func(h *ExecAnnotation) { h.OnError = v1alpha1.HookErrorModeFail }),
		},
		"on-error Continue": {
			annotations: cmd(ExecOnErrorAnnotation, "Continue"), wantDeclared: true, want: defaults(nil),
		},
		"on-error empty is Continue": {
			annotations: cmd(ExecOnErrorAnnotation, ""), wantDeclared: true, want: defaults(nil),
		},
		"on-error is case-sensitive": {
			annotations: cmd(ExecOnErrorAnnotation, "fail"), wantDeclared: true, want: defaults(nil),
			wantProblem: invalid(ExecOnErrorAnnotation, `"fail"`),
		},
		"on-error abort": {
			annotations: cmd(ExecOnErrorAnnotation, "abort"), wantDeclared: true, want: defaults(nil),
			wantProblem: invalid(ExecOnErrorAnnotation, `"abort"`),
		},
		// exec-timeout.
		"exec-timeout parsed": {
			annotations: cmd(ExecTimeoutAnnotation, "1m30s"), wantDeclared: true,
			want: defaults(func(h *ExecAnnotation) { h.ExecTimeout = 90 * time.Second }),
		},
		"exec-timeout 0 is the default": {
			annotations: cmd(ExecTimeoutAnnotation, "0"), wantDeclared: true, want: defaults(nil),
		},
		"exec-timeout empty is the default": {
			annotations: cmd(ExecTimeoutAnnotation, ""), wantDeclared: true, want: defaults(nil),
		},
		"exec-timeout without unit": {
			annotations: cmd(ExecTimeoutAnnotation, "30"), wantDeclared: true, want: defaults(nil),
			wantProblem: invalid(ExecTimeoutAnnotation, `"30"`),
		},
		"exec-timeout none": {
			annotations: cmd(ExecTimeoutAnnotation, "none"), wantDeclared: true, want: defaults(nil),
			wantProblem: invalid(ExecTimeoutAnnotation, `"none"`),
		},
		"exec-timeout negative": {
			annotations: cmd(ExecTimeoutAnnotation, "-5s"), wantDeclared: true, want: defaults(nil),
			wantProblem: invalid(ExecTimeoutAnnotation, `"-5s"`, "negative"),
		},
		// wait-timeout.
		"wait-timeout parsed": {
			annotations: cmd(ExecWaitTimeoutAnnotation, "2h"), wantDeclared: true,
			want: defaults(func(h *ExecAnnotation) { h.WaitTimeout = 2 * time.Hour }),
		},
		"wait-timeout 0 is maxWait": {
			annotations: cmd(ExecWaitTimeoutAnnotation, "0s"), wantDeclared: true, want: defaults(nil),
		},
		"wait-timeout negative": {
			annotations: cmd(ExecWaitTimeoutAnnotation, "-1m"), wantDeclared: true, want: defaults(nil),
			wantProblem: invalid(ExecWaitTimeoutAnnotation, `"-1m"`),
		},
		"wait-timeout unparsable": {
			annotations: cmd(ExecWaitTimeoutAnnotation, "forever"), wantDeclared: true, want: defaults(nil),
			wantProblem: invalid(ExecWaitTimeoutAnnotation, `"forever"`),
		},
		// wait-for-ready.
		"wait-for-ready true": {
			annotations: cmd(ExecWaitForReadyAnnotation, "true"), wantDeclared: true,
			want: defaults(func(h *ExecAnnotation) { h.WaitForReady = true }),
		},
		"wait-for-ready 1 (ParseBool)": {
			annotations: cmd(ExecWaitForReadyAnnotation, "1"), wantDeclared: true,
			want: defaults(func(h *ExecAnnotation) { h.WaitForReady = true }),
		},
		"wait-for-ready false": {
			annotations: cmd(ExecWaitForReadyAnnotation, "false"), wantDeclared: true, want: defaults(nil),
		},
		"wait-for-ready yes": {
			annotations: cmd(ExecWaitForReadyAnnotation, "yes"), wantDeclared: true, want: defaults(nil),
			wantProblem: invalid(ExecWaitForReadyAnnotation, `"yes"`),
		},
		// Several problems, and what still parsed.
		"every malformed key is named; valid ones keep their values": {
			annotations:  cmd(ExecOnErrorAnnotation, "Fail", ExecTimeoutAnnotation, "soon", ExecWaitForReadyAnnotation, "maybe"),
			wantDeclared: true,
			want:         defaults(func(h *ExecAnnotation) { h.OnError = v1alpha1.HookErrorModeFail }),
			wantProblem:  invalid(ExecTimeoutAnnotation, `"soon"`, ExecWaitForReadyAnnotation, `"maybe"`),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, declared, problem := ParseExecAnnotations(tc.annotations, testMaxWait)
			if declared != tc.wantDeclared {
				t.Fatalf("declared = %v, want %v", declared, tc.wantDeclared)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseExecAnnotations mismatch (-want +got):\n%s", diff)
			}
			checkProblem(t, problem, tc.wantProblem)
		})
	}
}

func TestParseInitAnnotations(t *testing.T) {
	defaults := func(edit func(*InitAnnotation)) InitAnnotation {
		h := InitAnnotation{Image: "alpine:3.20", Name: DefaultInitContainerName, Timeout: testMaxWait}
		if edit != nil {
			edit(&h)
		}
		return h
	}
	img := func(kv ...string) map[string]string {
		m := map[string]string{InitContainerImageAnnotation: "alpine:3.20"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := map[string]struct {
		annotations  map[string]string
		wantDeclared bool
		want         InitAnnotation
		wantProblem  *wantProblem
	}{
		"no annotations":             {annotations: nil},
		"empty image is no hook":     {annotations: map[string]string{InitContainerImageAnnotation: "", InitCommandAnnotation: `["true"]`}},
		"name and command, no image": {annotations: map[string]string{InitContainerNameAnnotation: "x", InitCommandAnnotation: "true"}},
		"image alone: stable default name, entrypoint, maxWait": {
			annotations: img(), wantDeclared: true, want: defaults(nil),
		},
		"image with whitespace": {
			annotations: map[string]string{InitContainerImageAnnotation: " alpine"}, wantDeclared: true,
			want:        defaults(func(h *InitAnnotation) { h.Image = " alpine" }),
			wantProblem: invalid(InitContainerImageAnnotation, `" alpine"`),
		},
		"container-name": {
			annotations: img(InitContainerNameAnnotation, "prep"), wantDeclared: true,
			want: defaults(func(h *InitAnnotation) { h.Name = "prep" }),
		},
		"container-name that the API server would reject": {
			annotations: img(InitContainerNameAnnotation, "Prep_1"), wantDeclared: true,
			want:        defaults(func(h *InitAnnotation) { h.Name = "Prep_1" }),
			wantProblem: invalid(InitContainerNameAnnotation, `"Prep_1"`),
		},
		"JSON command": {
			annotations: img(InitCommandAnnotation, `["/bin/sh","-c","touch /data/x"]`), wantDeclared: true,
			want: defaults(func(h *InitAnnotation) { h.Command = []string{"/bin/sh", "-c", "touch /data/x"} }),
		},
		"plain command is one element": {
			annotations: img(InitCommandAnnotation, "/prep.sh --all"), wantDeclared: true,
			want: defaults(func(h *InitAnnotation) { h.Command = []string{"/prep.sh --all"} }),
		},
		"empty command is the entrypoint": {
			annotations: img(InitCommandAnnotation, ""), wantDeclared: true, want: defaults(nil),
		},
		"[] command is the entrypoint": {
			annotations: img(InitCommandAnnotation, "[]"), wantDeclared: true, want: defaults(nil),
		},
		"invalid JSON command": {
			annotations: img(InitCommandAnnotation, "[oops"), wantDeclared: true, want: defaults(nil),
			wantProblem: invalid(InitCommandAnnotation, `"[oops"`),
		},
		"timeout parsed": {
			annotations: img(InitTimeoutAnnotation, "90s"), wantDeclared: true,
			want: defaults(func(h *InitAnnotation) { h.Timeout = 90 * time.Second }),
		},
		"timeout 0 is maxWait": {
			annotations: img(InitTimeoutAnnotation, "0"), wantDeclared: true, want: defaults(nil),
		},
		"timeout negative": {
			annotations: img(InitTimeoutAnnotation, "-1s"), wantDeclared: true, want: defaults(nil),
			wantProblem: invalid(InitTimeoutAnnotation, `"-1s"`),
		},
		"timeout unparsable": {
			annotations: img(InitTimeoutAnnotation, "10"), wantDeclared: true, want: defaults(nil),
			wantProblem: invalid(InitTimeoutAnnotation, `"10"`),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, declared, problem := ParseInitAnnotations(tc.annotations, testMaxWait)
			if declared != tc.wantDeclared {
				t.Fatalf("declared = %v, want %v", declared, tc.wantDeclared)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseInitAnnotations mismatch (-want +got):\n%s", diff)
			}
			checkProblem(t, problem, tc.wantProblem)
		})
	}
}

func TestProblemMessagesAreBounded(t *testing.T) {
	huge := strings.Repeat("\x00ü", 5000) // control characters quote to 4 bytes each
	tests := map[string]struct {
		parse func() *Problem
		key   string
	}{
		"huge invalid command": {
			parse: func() *Problem {
				_, _, p := ParseExecAnnotations(map[string]string{ExecCommandAnnotation: "[" + huge}, time.Hour)
				return p
			},
			key: ExecCommandAnnotation,
		},
		"huge bad duration": {
			parse: func() *Problem {
				_, _, p := ParseExecAnnotations(map[string]string{ExecCommandAnnotation: "x", ExecTimeoutAnnotation: huge}, time.Hour)
				return p
			},
			key: ExecTimeoutAnnotation,
		},
		"every exec key huge": {
			parse: func() *Problem {
				_, _, p := ParseExecAnnotations(map[string]string{
					ExecCommandAnnotation: "[" + huge, ExecOnErrorAnnotation: huge, ExecTimeoutAnnotation: huge,
					ExecWaitTimeoutAnnotation: huge, ExecWaitForReadyAnnotation: huge,
				}, time.Hour)
				return p
			},
			key: ExecCommandAnnotation,
		},
		"huge init name": {
			parse: func() *Problem {
				_, _, p := ParseInitAnnotations(map[string]string{InitContainerImageAnnotation: "a", InitContainerNameAnnotation: huge}, time.Hour)
				return p
			},
			key: InitContainerNameAnnotation,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := tc.parse()
			checkProblem(t, p, invalid(tc.key, "truncated"))
		})
	}
}

func TestTruncate(t *testing.T) {
	tests := map[string]struct {
		s    string
		n    int
		want string
	}{
		"short string untouched":          {s: "abc", n: 10, want: "abc"},
		"exact length untouched":          {s: "abcdef", n: 6, want: "abcdef"},
		"cut with ellipsis":               {s: "abcdefghij", n: 8, want: "abcde..."},
		"never splits a UTF-8 character":  {s: "aaééé", n: 6, want: "aa..."},
		"cut keeps whole leading runes":   {s: "ééééé", n: 7, want: "éé..."},
		"invalid UTF-8 is cut at a limit": {s: "\xff\xff\xff\xff\xff\xff", n: 5, want: "\xff\xff..."},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := truncate(tc.s, tc.n)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("truncate(%q, %d) mismatch (-want +got):\n%s", tc.s, tc.n, diff)
			}
			if len(got) > tc.n {
				t.Errorf("truncate(%q, %d) = %d bytes", tc.s, tc.n, len(got))
			}
		})
	}
}

func TestInjectedAnnotationRoundTrip(t *testing.T) {
	tests := map[string]struct {
		names     []string
		wantValue string
	}{
		"none":    {names: nil, wantValue: `[]`},
		"several": {names: []string{"restore-hook-init", "prep"}, wantValue: `["restore-hook-init","prep"]`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			value := EncodeInjected(tc.names)
			if value != tc.wantValue {
				t.Errorf("EncodeInjected(%q) = %s, want %s", tc.names, value, tc.wantValue)
			}
			got, err := DecodeInjected(value)
			if err != nil {
				t.Fatalf("DecodeInjected(%s): %v", value, err)
			}
			if len(tc.names) == 0 && len(got) == 0 {
				return
			}
			if diff := cmp.Diff(tc.names, got); diff != "" {
				t.Errorf("round trip mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeInjected(t *testing.T) {
	tests := map[string]struct {
		value   string
		want    []string
		wantErr bool
	}{
		"absent":   {value: "", want: nil},
		"names":    {value: `["a","b"]`, want: []string{"a", "b"}},
		"not JSON": {value: `a,b`, wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := DecodeInjected(tc.value)
			if (err != nil) != tc.wantErr {
				t.Fatalf("DecodeInjected(%q) error = %v, wantErr %v", tc.value, err, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), InjectedAnnotation) {
				t.Errorf("error %q does not name the annotation", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("DecodeInjected(%q) mismatch (-want +got):\n%s", tc.value, diff)
			}
		})
	}
}

func TestResolveMaxWait(t *testing.T) {
	tests := map[string]struct {
		spec *v1alpha1.RestoreHookRunSpec
		want time.Duration
	}{
		"nil spec":       {spec: nil, want: DefaultMaxWait},
		"unset":          {spec: &v1alpha1.RestoreHookRunSpec{}, want: DefaultMaxWait},
		"zero":           {spec: &v1alpha1.RestoreHookRunSpec{MaxWait: &metav1.Duration{}}, want: DefaultMaxWait},
		"negative":       {spec: &v1alpha1.RestoreHookRunSpec{MaxWait: &metav1.Duration{Duration: -time.Second}}, want: DefaultMaxWait},
		"set":            {spec: &v1alpha1.RestoreHookRunSpec{MaxWait: &metav1.Duration{Duration: 5 * time.Minute}}, want: 5 * time.Minute},
		"longer than 1h": {spec: &v1alpha1.RestoreHookRunSpec{MaxWait: &metav1.Duration{Duration: 3 * time.Hour}}, want: 3 * time.Hour},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := ResolveMaxWait(tc.spec); got != tc.want {
				t.Errorf("ResolveMaxWait = %v, want %v", got, tc.want)
			}
		})
	}
}

// The API package spells the defaults as strings (for CRD docs); the durations here must agree.
func TestDefaultsMatchAPI(t *testing.T) {
	tests := map[string]struct {
		api  string
		here time.Duration
	}{
		"exec timeout": {api: v1alpha1.DefaultExecTimeout, here: DefaultExecTimeout},
		"retry delay":  {api: v1alpha1.DefaultRetryDelay, here: DefaultRetryDelay},
		"max wait":     {api: v1alpha1.DefaultMaxWait, here: DefaultMaxWait},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d, err := time.ParseDuration(tc.api)
			if err != nil {
				t.Fatal(err)
			}
			if d != tc.here {
				t.Errorf("API default %s = %v, package default %v", tc.api, d, tc.here)
			}
		})
	}
}
