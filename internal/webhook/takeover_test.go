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

package webhook

import (
	"strings"
	"testing"

	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/hook"
	"github.com/restorehooks/restore-hook-operator/internal/scope"
)

func TestDecideTakeover(t *testing.T) {
	sc := scope.New("velero")
	run := func(ns, name, restore string, edit ...func(*v1alpha1.RestoreHookRun)) *v1alpha1.RestoreHookRun {
		r := &v1alpha1.RestoreHookRun{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: v1alpha1.RestoreHookRunSpec{RestoreRef: v1alpha1.RestoreReference{Name: restore}}}
		for _, e := range edit {
			e(r)
		}
		return r
	}
	restore := func(name string, hooks ...velerov1.RestoreResourceHookSpec) *velerov1.Restore {
		return &velerov1.Restore{ObjectMeta: metav1.ObjectMeta{Namespace: "velero", Name: name},
			Spec: velerov1.RestoreSpec{Hooks: velerov1.RestoreHooks{Resources: hooks}}}
	}
	execSpec := velerov1.RestoreResourceHookSpec{Name: "s", PostHooks: []velerov1.RestoreResourceHook{
		{Exec: &velerov1.ExecRestoreHook{Command: []string{"true"}}}}}
	restoreOf := func(r *v1alpha1.RestoreHookRun) types.NamespacedName {
		return types.NamespacedName{Namespace: "velero", Name: r.Spec.RestoreRef.Name}
	}
	pod := func(annotations map[string]string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "p", Annotations: annotations,
			Labels: map[string]string{velerov1.RestoreNameLabel: "r1", "app": "db"}}}
	}
	withHook := map[string]string{hook.ExecCommandAnnotation: "/bin/migrate"}
	plain := map[types.NamespacedName]*velerov1.Restore{{Namespace: "velero", Name: "r1"}: restore("r1")}

	cases := map[string]struct {
		pod      *corev1.Pod
		runs     []*v1alpha1.RestoreHookRun
		restores map[types.NamespacedName]*velerov1.Restore
		wantRun  string
		wantWhy  string
	}{
		"a covering run takes the hook over": {
			pod: pod(withHook), runs: []*v1alpha1.RestoreHookRun{run("velero", "a", "r1")}, restores: plain, wantRun: "a"},
		"the oldest covering run is named": {
			pod: pod(withHook), runs: []*v1alpha1.RestoreHookRun{run("velero", "old", "r1"), run("velero", "new", "r1")},
			restores: plain, wantRun: "old"},
		"no exec hook annotation": {
			pod: pod(map[string]string{hook.ExecContainerAnnotation: "db"}), runs: []*v1alpha1.RestoreHookRun{run("velero", "a", "r1")},
			restores: plain, wantWhy: "no annotation exec hook"},
		"no run": {pod: pod(withHook), restores: plain, wantWhy: "no active RestoreHookRun"},
		"a run of another restore": {
			pod: pod(withHook), runs: []*v1alpha1.RestoreHookRun{run("velero", "a", "r2")}, restores: plain, wantWhy: "no active"},
		"a terminal run": {
			pod: pod(withHook), runs: []*v1alpha1.RestoreHookRun{run("velero", "a", "r1", func(r *v1alpha1.RestoreHookRun) {
				r.Status.Phase = v1alpha1.RunPhaseCompleted
			})}, restores: plain, wantWhy: "no active"},
		"a run being deleted": {
			pod: pod(withHook), runs: []*v1alpha1.RestoreHookRun{run("velero", "a", "r1", func(r *v1alpha1.RestoreHookRun) {
				r.DeletionTimestamp = &metav1.Time{}
			})}, restores: plain, wantWhy: "no active"},
		"a run ignoring pod annotations": {
			pod: pod(withHook), runs: []*v1alpha1.RestoreHookRun{run("velero", "a", "r1", func(r *v1alpha1.RestoreHookRun) {
				r.Spec.PodAnnotations = v1alpha1.PodAnnotationsIgnore
			})}, restores: plain, wantWhy: "no active"},
		"a run that may not touch the namespace": {
			pod: pod(withHook), runs: []*v1alpha1.RestoreHookRun{run("team-b", "a", "r1")}, restores: plain, wantWhy: "no active"},
		"a run in the pod's own namespace": {
			pod: pod(withHook), runs: []*v1alpha1.RestoreHookRun{run("app", "mine", "r1")}, restores: plain, wantRun: "mine"},
		"the Restore's spec.hooks select the pod: Velero's XOR stays": {
			pod: pod(withHook), runs: []*v1alpha1.RestoreHookRun{run("velero", "a", "r1")},
			restores: map[types.NamespacedName]*velerov1.Restore{{Namespace: "velero", Name: "r1"}: restore("r1", execSpec)},
			wantWhy:  "spec.hooks selects the pod"},
		"spec.hooks for other pods do not stop the takeover": {
			pod: pod(withHook), runs: []*v1alpha1.RestoreHookRun{run("velero", "a", "r1")},
			restores: map[types.NamespacedName]*velerov1.Restore{{Namespace: "velero", Name: "r1"}: restore("r1",
				velerov1.RestoreResourceHookSpec{Name: "s", IncludedNamespaces: []string{"other"}, PostHooks: execSpec.PostHooks})},
			wantRun: "a"},
		"the Restore is not found": {
			pod: pod(withHook), runs: []*v1alpha1.RestoreHookRun{run("velero", "a", "r1")}, wantWhy: "not found"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := decideTakeover(tc.pod, tc.runs, tc.restores, restoreOf, sc.MayTouch)
			gotRun := ""
			if got.run != nil {
				gotRun = got.run.Name
			}
			if gotRun != tc.wantRun {
				t.Errorf("run = %q (%s), want %q", gotRun, got.why, tc.wantRun)
			}
			if tc.wantWhy != "" && !strings.Contains(got.why, tc.wantWhy) {
				t.Errorf("why = %q, want it to say %q", got.why, tc.wantWhy)
			}
		})
	}
}
