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
	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
)

func TestTakeOver(t *testing.T) {
	cases := map[string]struct {
		in       map[string]string
		want     map[string]string
		wantTake bool
	}{
		"no annotations": {in: nil, want: nil},
		"exec keys without a command: Velero runs nothing, nothing to take": {
			in:   map[string]string{ExecContainerAnnotation: "db", "app": "x"},
			want: map[string]string{ExecContainerAnnotation: "db", "app": "x"},
		},
		"empty command: not Velero's trigger": {
			in:   map[string]string{ExecCommandAnnotation: ""},
			want: map[string]string{ExecCommandAnnotation: ""},
		},
		"every post.hook key moves; init keys and others stay": {
			in: map[string]string{ExecCommandAnnotation: `["/bin/sh","-c","echo hi"]`, ExecContainerAnnotation: "db",
				ExecOnErrorAnnotation: "Fail", InitContainerImageAnnotation: "busybox", "team": "a"},
			want: map[string]string{InitContainerImageAnnotation: "busybox", "team": "a",
				PostHookAnnotation:    `{"post.hook.restore.velero.io/command":"[\"/bin/sh\",\"-c\",\"echo hi\"]","post.hook.restore.velero.io/container":"db","post.hook.restore.velero.io/on-error":"Fail"}`,
				PostHookRunAnnotation: "velero/r1-hooks"},
			wantTake: true,
		},
		"malformed values are carried over unchanged": {
			in: map[string]string{ExecCommandAnnotation: `["unterminated`, ExecTimeoutAnnotation: "soon",
				ExecAnnotationPrefix + "unknown-key": "kept"},
			want: map[string]string{
				PostHookAnnotation:    `{"post.hook.restore.velero.io/command":"[\"unterminated","post.hook.restore.velero.io/exec-timeout":"soon","post.hook.restore.velero.io/unknown-key":"kept"}`,
				PostHookRunAnnotation: "velero/r1-hooks"},
			wantTake: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			before := cloneMap(tc.in)
			got, took := TakeOver(tc.in, "velero/r1-hooks")
			if took != tc.wantTake {
				t.Errorf("took = %v, want %v", took, tc.wantTake)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("annotations (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, tc.in); diff != "" {
				t.Errorf("input modified (-before +after):\n%s", diff)
			}
			if !took {
				return
			}
			back, changed, err := GiveBack(got)
			if err != nil || !changed {
				t.Fatalf("GiveBack: changed %v, err %v", changed, err)
			}
			if diff := cmp.Diff(tc.in, back); diff != "" {
				t.Errorf("GiveBack(TakeOver(a)) != a (-want +got):\n%s", diff)
			}
		})
	}
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func TestGiveBack(t *testing.T) {
	mark := EncodePostHook(map[string]string{ExecCommandAnnotation: "/bin/old"})
	cases := map[string]struct {
		in          map[string]string
		want        map[string]string
		wantChanged bool
		wantErr     string
	}{
		"no mark": {in: map[string]string{"a": "b"}, want: map[string]string{"a": "b"}},
		"mark: Velero's keys back, ours gone": {
			in:          map[string]string{PostHookAnnotation: mark, PostHookRunAnnotation: "velero/r", "a": "b"},
			want:        map[string]string{ExecCommandAnnotation: "/bin/old", "a": "b"},
			wantChanged: true,
		},
		"the pod's own Velero keys win over a stale mark": {
			in:          map[string]string{PostHookAnnotation: mark, ExecCommandAnnotation: "/bin/new"},
			want:        map[string]string{ExecCommandAnnotation: "/bin/new"},
			wantChanged: true,
		},
		"a run name without the hooks: dropped": {
			in:          map[string]string{PostHookRunAnnotation: "velero/r"},
			want:        map[string]string{},
			wantChanged: true,
		},
		"undecodable mark: left as it is, with an error naming it": {
			in:      map[string]string{PostHookAnnotation: "not json"},
			want:    map[string]string{PostHookAnnotation: "not json"},
			wantErr: PostHookAnnotation,
		},
		"a foreign key in the mark is refused": {
			in:      map[string]string{PostHookAnnotation: `{"evil.example.com/x":"y"}`},
			want:    map[string]string{PostHookAnnotation: `{"evil.example.com/x":"y"}`},
			wantErr: "evil.example.com/x",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, changed, err := GiveBack(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("err = %v, want one naming %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Errorf("unexpected error %v", err)
			}
			if changed != tc.wantChanged {
				t.Errorf("changed = %v, want %v", changed, tc.wantChanged)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("annotations (-want +got):\n%s", diff)
			}
		})
	}
}

// The reconciler parses a taken-over exec hook exactly as it parses Velero's annotations: same keys,
// same defaults, same InvalidAnnotation messages naming the original key and value.
func TestExecHookFromTakenOverAnnotations(t *testing.T) {
	cases := map[string]map[string]string{
		"valid, every key": {ExecCommandAnnotation: `["/bin/sh","-c","date"]`, ExecContainerAnnotation: "app",
			ExecOnErrorAnnotation: "Fail", ExecTimeoutAnnotation: "1m", ExecWaitTimeoutAnnotation: "5m", ExecWaitForReadyAnnotation: "true"},
		"defaults":                {ExecCommandAnnotation: "/bin/true"},
		"bad on-error":            {ExecCommandAnnotation: "/bin/true", ExecOnErrorAnnotation: "fail"},
		"bad durations and bool":  {ExecCommandAnnotation: "/bin/true", ExecTimeoutAnnotation: "soon", ExecWaitTimeoutAnnotation: "-1s", ExecWaitForReadyAnnotation: "maybe"},
		"broken JSON command":     {ExecCommandAnnotation: `["/bin/sh", "-c"`},
		"container the pod lacks": {ExecCommandAnnotation: "/bin/true", ExecContainerAnnotation: "sidecar"},
	}
	spec := resources(v1alpha1.RestoreResourceHookSpec{Name: "spec", PostHooks: []v1alpha1.RestoreResourceHook{execHook("app", "spec-hook")}})
	for name, ann := range cases {
		t.Run(name, func(t *testing.T) {
			velero := newPod(withAnnotations(flatten(ann)...))
			taken, took := TakeOver(velero.Annotations, "velero/r")
			if !took {
				t.Fatal("not taken over")
			}
			ours := newPod()
			ours.Annotations = taken
			want := ResolveExecHooks(velero, spec, time.Hour)
			got := ResolveExecHooks(ours, spec, time.Hour)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("taken-over hook differs from Velero's (-velero +taken over):\n%s", diff)
			}
			if len(got) != 1 || got[0].Source != v1alpha1.HookSourceAnnotation {
				t.Errorf("want the one annotation hook (XOR), got %+v", got)
			}
			if got[0].Problem != nil && got[0].Problem.Reason == v1alpha1.ReasonInvalidAnnotation &&
				!strings.Contains(got[0].Problem.Message, ExecAnnotationPrefix) {
				t.Errorf("message %q does not name Velero's key", got[0].Problem.Message)
			}
		})
	}

	t.Run("an unreadable mark fails the hook naming our annotation, and spec hooks still do not apply", func(t *testing.T) {
		pod := newPod(withAnnotations(PostHookAnnotation, "{broken", PostHookRunAnnotation, "velero/r"))
		got := ResolveExecHooks(pod, spec, time.Hour)
		if len(got) != 1 || got[0].Problem == nil || got[0].Problem.Reason != v1alpha1.ReasonInvalidAnnotation ||
			!strings.Contains(got[0].Problem.Message, PostHookAnnotation) || !strings.Contains(got[0].Problem.Message, `"{broken"`) {
			t.Errorf("got %+v", got)
		}
	})

	t.Run("ExecHookAnnotations says who took the pod over", func(t *testing.T) {
		taken, _ := TakeOver(map[string]string{ExecCommandAnnotation: "x"}, "team-a/run-1")
		eff, by, problem := ExecHookAnnotations(taken)
		if by != "team-a/run-1" || problem != nil || eff[ExecCommandAnnotation] != "x" {
			t.Errorf("got %v %q %v", eff, by, problem)
		}
		own := map[string]string{ExecCommandAnnotation: "y"}
		eff, by, problem = ExecHookAnnotations(own)
		if by != "" || problem != nil || eff[ExecCommandAnnotation] != "y" {
			t.Errorf("got %v %q %v", eff, by, problem)
		}
	})
}

func flatten(m map[string]string) []string {
	var kv []string
	for k, v := range m {
		kv = append(kv, k, v)
	}
	return kv
}

func TestSpecHooksSelect(t *testing.T) {
	exec := velerov1.RestoreResourceHook{Exec: &velerov1.ExecRestoreHook{Command: []string{"true"}}}
	initOnly := velerov1.RestoreResourceHook{Init: &velerov1.InitRestoreHook{}}
	pod := newPod() // app/db-0, labels app=postgres
	cases := map[string]struct {
		hooks velerov1.RestoreHooks
		want  bool
	}{
		"no hook specs": {},
		"an exec hook for every pod": {hooks: velerov1.RestoreHooks{Resources: []velerov1.RestoreResourceHookSpec{
			{Name: "a", PostHooks: []velerov1.RestoreResourceHook{exec}}}}, want: true},
		"init hooks only do not count": {hooks: velerov1.RestoreHooks{Resources: []velerov1.RestoreResourceHookSpec{
			{Name: "a", PostHooks: []velerov1.RestoreResourceHook{initOnly}}}}},
		"another namespace": {hooks: velerov1.RestoreHooks{Resources: []velerov1.RestoreResourceHookSpec{
			{Name: "a", IncludedNamespaces: []string{"other"}, PostHooks: []velerov1.RestoreResourceHook{exec}}}}},
		"a glob on the namespace": {hooks: velerov1.RestoreHooks{Resources: []velerov1.RestoreResourceHookSpec{
			{Name: "a", IncludedNamespaces: []string{"ap*"}, PostHooks: []velerov1.RestoreResourceHook{exec}}}}, want: true},
		"namespace excluded": {hooks: velerov1.RestoreHooks{Resources: []velerov1.RestoreResourceHookSpec{
			{Name: "a", ExcludedNamespaces: []string{"app"}, PostHooks: []velerov1.RestoreResourceHook{exec}}}}},
		"labels do not match": {hooks: velerov1.RestoreHooks{Resources: []velerov1.RestoreResourceHookSpec{
			{Name: "a", LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "redis"}},
				PostHooks: []velerov1.RestoreResourceHook{exec}}}}},
		"labels match": {hooks: velerov1.RestoreHooks{Resources: []velerov1.RestoreResourceHookSpec{
			{Name: "a", LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "postgres"}},
				PostHooks: []velerov1.RestoreResourceHook{exec}}}}, want: true},
		"a selector that does not parse counts as selecting": {hooks: velerov1.RestoreHooks{Resources: []velerov1.RestoreResourceHookSpec{
			{Name: "a", LabelSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Bogus"}}},
				PostHooks: []velerov1.RestoreResourceHook{exec}}}}, want: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := SpecHooksSelect(pod, tc.hooks); got != tc.want {
				t.Errorf("SpecHooksSelect = %v, want %v", got, tc.want)
			}
		})
	}
}
