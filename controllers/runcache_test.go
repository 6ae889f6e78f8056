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
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
)

func TestFinishedRunsTrimsOnlyFinishedIdleRuns(t *testing.T) {
	newRun := func(uid types.UID, phase v1alpha1.RunPhase) *v1alpha1.RestoreHookRun {
		return &v1alpha1.RestoreHookRun{
			ObjectMeta: metav1.ObjectMeta{Name: string(uid), UID: uid, ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "x"}}},
			Status: v1alpha1.RestoreHookRunStatus{Phase: phase, HooksSucceeded: 1, Summary: "1/1",
				Hooks: []v1alpha1.HookRecord{{Pod: "ns/p", Phase: v1alpha1.HookPhaseSucceeded}}, FoldedPods: []types.UID{"p2"}},
		}
	}
	busy := map[types.UID]bool{"busy": true}

	var unregistered FinishedRuns
	out, _ := unregistered.transform(newRun("done", v1alpha1.RunPhaseCompleted))
	if got := out.(*v1alpha1.RestoreHookRun); len(got.Status.Hooks) != 1 || got.ManagedFields != nil {
		t.Errorf("before a reconciler registered: records %d, managedFields %v; want the records kept, managedFields dropped",
			len(got.Status.Hooks), got.ManagedFields)
	}

	var f FinishedRuns
	f.register(func(uid types.UID) bool { return busy[uid] })
	for _, tc := range []struct {
		uid   types.UID
		phase v1alpha1.RunPhase
		trim  bool
	}{
		{"done", v1alpha1.RunPhaseCompleted, true},
		{"failed", v1alpha1.RunPhasePartiallyFailed, true},
		{"running", v1alpha1.RunPhaseRunning, false},
		{"pending", v1alpha1.RunPhasePending, false},
		{"busy", v1alpha1.RunPhaseFailed, false}, // finished, its last execs still being recorded
	} {
		out, err := f.transform(newRun(tc.uid, tc.phase))
		if err != nil {
			t.Fatal(err)
		}
		got := out.(*v1alpha1.RestoreHookRun)
		if trimmed := got.Status.Hooks == nil && got.Status.FoldedPods == nil; trimmed != tc.trim {
			t.Errorf("%s (%s): trimmed %v, want %v", tc.uid, tc.phase, trimmed, tc.trim)
		}
		if got.Status.Phase != tc.phase || got.Status.HooksSucceeded != 1 || got.Status.Summary != "1/1" {
			t.Errorf("%s: phase and counters changed: %+v", tc.uid, got.Status)
		}
	}
	if out, _ := f.transform("not a run"); out != "not a run" {
		t.Errorf("a non-run object was changed: %v", out)
	}
}
