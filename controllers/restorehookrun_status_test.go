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
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
)

var st0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func restoreIn(phase velerov1.RestorePhase) *velerov1.Restore {
	r := &velerov1.Restore{}
	r.Status.Phase = phase
	return r
}

func TestDecidePhase(t *testing.T) {
	cases := map[string]struct {
		in         phaseInput
		wantPhase  v1alpha1.RunPhase
		wantReason string
	}{
		"no Restore yet": {
			in:        phaseInput{created: st0, maxWait: time.Hour, now: st0.Add(time.Minute)},
			wantPhase: v1alpha1.RunPhasePending,
		},
		"no Restore within maxWait": {
			in:        phaseInput{created: st0, maxWait: time.Hour, now: st0.Add(time.Hour)},
			wantPhase: v1alpha1.RunPhaseFailed, wantReason: v1alpha1.ConditionReasonRestoreNotFound,
		},
		"Restore deleted after being seen": {
			in:        phaseInput{everSeen: true, created: st0, maxWait: time.Hour, now: st0},
			wantPhase: v1alpha1.RunPhaseFailed, wantReason: v1alpha1.ConditionReasonRestoreDeleted,
		},
		"Restore deleted after being seen, a hook still executing": {
			in:        phaseInput{everSeen: true, created: st0, maxWait: time.Hour, now: st0, unfinished: 1},
			wantPhase: v1alpha1.RunPhaseRunning, wantReason: v1alpha1.ConditionReasonRestoreDeleted,
		},
		"Restore New": {
			in:        phaseInput{restore: restoreIn(velerov1.RestorePhaseNew), now: st0},
			wantPhase: v1alpha1.RunPhaseRunning,
		},
		"Restore InProgress, no hooks yet": {
			in:        phaseInput{restore: restoreIn(velerov1.RestorePhaseInProgress), now: st0},
			wantPhase: v1alpha1.RunPhaseRunning,
		},
		"Restore done, hooks outstanding": {
			in:        phaseInput{restore: restoreIn(velerov1.RestorePhaseCompleted), unfinished: 1, now: st0},
			wantPhase: v1alpha1.RunPhaseRunning,
		},
		"Restore Finalizing (Velero waits for hooks there), all done": {
			in:        phaseInput{restore: restoreIn(velerov1.RestorePhaseFinalizing), now: st0},
			wantPhase: v1alpha1.RunPhaseCompleted,
		},
		"Restore done, every hook succeeded": {
			in:        phaseInput{restore: restoreIn(velerov1.RestorePhaseCompleted), podsInScope: 2, now: st0},
			wantPhase: v1alpha1.RunPhaseCompleted,
		},
		"Restore done, no hooks applied": {
			in:        phaseInput{restore: restoreIn(velerov1.RestorePhaseCompleted), now: st0},
			wantPhase: v1alpha1.RunPhaseCompleted,
		},
		"Restore done, a hook failed": {
			in:        phaseInput{restore: restoreIn(velerov1.RestorePhaseCompleted), failed: 1, now: st0},
			wantPhase: v1alpha1.RunPhasePartiallyFailed, wantReason: v1alpha1.ConditionReasonHooksFailed,
		},
		"Restore Failed with no pods in scope": {
			in:        phaseInput{restore: restoreIn(velerov1.RestorePhaseFailed), now: st0},
			wantPhase: v1alpha1.RunPhaseFailed, wantReason: v1alpha1.ConditionReasonRestoreFailed,
		},
		"Restore FailedValidation": {
			in:        phaseInput{restore: restoreIn(velerov1.RestorePhaseFailedValidation), now: st0},
			wantPhase: v1alpha1.RunPhaseFailed, wantReason: v1alpha1.ConditionReasonRestoreFailed,
		},
		"Restore Failed after restoring pods whose hooks succeeded": {
			in:        phaseInput{restore: restoreIn(velerov1.RestorePhaseFailed), podsInScope: 1, now: st0},
			wantPhase: v1alpha1.RunPhaseCompleted,
		},
		"Restore just finished: keep looking for pods a moment": {
			in: phaseInput{restore: func() *velerov1.Restore {
				r := restoreIn(velerov1.RestorePhaseCompleted)
				r.Status.CompletionTimestamp = &metav1.Time{Time: st0}
				return r
			}(), now: st0.Add(time.Second)},
			wantPhase: v1alpha1.RunPhaseRunning,
		},
		"terminal is final": {
			in:        phaseInput{prev: v1alpha1.RunPhaseCompleted, restore: restoreIn(velerov1.RestorePhaseInProgress), now: st0},
			wantPhase: v1alpha1.RunPhaseCompleted,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := decidePhase(tc.in)
			if got.phase != tc.wantPhase {
				t.Errorf("phase %s, want %s", got.phase, tc.wantPhase)
			}
			if tc.wantReason != "" && got.reason != tc.wantReason {
				t.Errorf("reason %s, want %s", got.reason, tc.wantReason)
			}
		})
	}
}

func records(phases ...v1alpha1.HookPhase) []v1alpha1.HookRecord {
	var out []v1alpha1.HookRecord
	for i, p := range phases {
		out = append(out, v1alpha1.HookRecord{Pod: fmt.Sprintf("ns/p%d", i), PodUID: types.UID(fmt.Sprintf("u%d", i)),
			Hook: "h", Phase: p})
	}
	return out
}

func TestCounters(t *testing.T) {
	cases := map[string]struct {
		records []v1alpha1.HookRecord
		omitted omission
		want    counts
		summary string
	}{
		"empty": {want: counts{}, summary: "0/0"},
		"mixed": {
			records: records(v1alpha1.HookPhaseSucceeded, v1alpha1.HookPhaseFailed, v1alpha1.HookPhaseSkipped,
				v1alpha1.HookPhaseRunning, v1alpha1.HookPhaseWaiting, v1alpha1.HookPhasePending),
			want:    counts{attempted: 6, succeeded: 1, failed: 1, skipped: 1, pending: 3},
			summary: "1/6",
		},
		"omitted count as attempted and succeeded": {
			records: records(v1alpha1.HookPhaseFailed), omitted: omission{succeeded: 10, failed: 2, skipped: 1},
			want:    counts{attempted: 14, succeeded: 10, failed: 3, skipped: 1},
			summary: "10/14",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := countRecords(tc.records, tc.omitted)
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(counts{})); diff != "" {
				t.Errorf("counts (-want +got):\n%s", diff)
			}
			var st v1alpha1.RestoreHookRunStatus
			setCounters(&st, got)
			if st.Summary != tc.summary {
				t.Errorf("summary %q, want %q", st.Summary, tc.summary)
			}
			if st.HooksAttempted != got.attempted || st.HooksFailed != got.failed {
				t.Errorf("Velero counters %d/%d, want %d/%d", st.HooksAttempted, st.HooksFailed, got.attempted, got.failed)
			}
		})
	}
}

func TestConditions(t *testing.T) {
	cases := map[string]struct {
		decision      phaseDecision
		counts        counts
		wantCompleted metav1.ConditionStatus
		wantReason    string
		wantDegraded  metav1.ConditionStatus
	}{
		"running, healthy": {
			decision: phaseDecision{phase: v1alpha1.RunPhaseRunning}, wantCompleted: metav1.ConditionFalse,
			wantReason: v1alpha1.ConditionReasonInProgress, wantDegraded: metav1.ConditionFalse,
		},
		"running with a failure": {
			decision: phaseDecision{phase: v1alpha1.RunPhaseRunning}, counts: counts{failed: 1},
			wantCompleted: metav1.ConditionFalse, wantReason: v1alpha1.ConditionReasonInProgress, wantDegraded: metav1.ConditionTrue,
		},
		"completed": {
			decision: phaseDecision{phase: v1alpha1.RunPhaseCompleted}, wantCompleted: metav1.ConditionTrue,
			wantReason: "Completed", wantDegraded: metav1.ConditionFalse,
		},
		"partially failed": {
			decision: phaseDecision{phase: v1alpha1.RunPhasePartiallyFailed}, counts: counts{skipped: 2},
			wantCompleted: metav1.ConditionTrue, wantReason: "PartiallyFailed", wantDegraded: metav1.ConditionTrue,
		},
		"failed run": {
			decision:      phaseDecision{phase: v1alpha1.RunPhaseFailed, reason: v1alpha1.ConditionReasonRestoreDeleted, message: "gone"},
			wantCompleted: metav1.ConditionTrue, wantReason: "Failed", wantDegraded: metav1.ConditionTrue,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var st v1alpha1.RestoreHookRunStatus
			setConditions(&st, tc.decision, tc.counts, 7)
			c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionCompleted)
			if c.Status != tc.wantCompleted || c.Reason != tc.wantReason || c.ObservedGeneration != 7 {
				t.Errorf("Completed = %s/%s gen %d, want %s/%s gen 7", c.Status, c.Reason, c.ObservedGeneration, tc.wantCompleted, tc.wantReason)
			}
			d := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionDegraded)
			if d.Status != tc.wantDegraded || d.ObservedGeneration != 7 {
				t.Errorf("Degraded = %s gen %d, want %s", d.Status, d.ObservedGeneration, tc.wantDegraded)
			}
		})
	}
}

// bigRecords builds pods × hooks records with realistic names, times and output.
func bigRecords(pods, hooks int, phase func(pod, hook int) v1alpha1.HookPhase) []v1alpha1.HookRecord {
	now := metav1.NewTime(st0)
	out := make([]v1alpha1.HookRecord, 0, pods*hooks)
	for p := range pods {
		for h := range hooks {
			code := int32(0)
			r := v1alpha1.HookRecord{
				Pod: fmt.Sprintf("application-namespace/statefulset-database-%05d", p), PodUID: types.UID(fmt.Sprintf("0b4c7e1e-5a55-4b2e-9c6e-%012d", p)),
				Container: "postgres", Hook: "restore-hook-database", Index: int32(h), Source: v1alpha1.HookSourceSpec,
				Type: v1alpha1.HookTypeExec, Phase: phase(p, h), Attempts: 1, StartTime: &now, CompletionTime: &now, ExitCode: &code,
				Stdout: strings.Repeat("o", 1024), Stderr: strings.Repeat("e", 200), Message: "command exited 0",
			}
			if r.Phase == v1alpha1.HookPhaseFailed {
				r.Reason, r.Message = v1alpha1.ReasonNonZeroExit, strings.Repeat("m", 1024)
			}
			out = append(out, r)
		}
	}
	return out
}

func TestBoundRecords(t *testing.T) {
	succeeded := func(int, int) v1alpha1.HookPhase { return v1alpha1.HookPhaseSucceeded }
	cases := map[string]struct {
		pods, hooks int
		phase       func(pod, hook int) v1alpha1.HookPhase
		// keepFailed: every Failed record must stay (false only for failure floods that cannot fit).
		keepFailed bool
	}{
		"5,000 pods × 3 hooks all succeeded": {pods: 5000, hooks: 3, phase: succeeded, keepFailed: true},
		"small runs keep everything":         {pods: 10, hooks: 3, phase: succeeded, keepFailed: true},
		"5,000 pods × 3 hooks, 1 pod in 10 failed": {
			pods: 5000, hooks: 3, keepFailed: true,
			phase: func(p, h int) v1alpha1.HookPhase {
				if p%10 == 0 && h == 2 {
					return v1alpha1.HookPhaseFailed
				}
				return v1alpha1.HookPhaseSucceeded
			},
		},
		"5,000 pods × 3 hooks not started yet": {
			pods: 5000, hooks: 3, keepFailed: true,
			phase: func(int, int) v1alpha1.HookPhase { return v1alpha1.HookPhasePending },
		},
		"5,000 pods × 3 hooks mid-run: 64 running, retries waiting, the rest pending or done": {
			pods: 5000, hooks: 3, keepFailed: true,
			phase: func(p, h int) v1alpha1.HookPhase {
				switch {
				case p < 64 && h == 0:
					return v1alpha1.HookPhaseRunning
				case p < 64:
					return v1alpha1.HookPhasePending
				case p < 100:
					return v1alpha1.HookPhaseWaiting // retry
				case p < 2500:
					return v1alpha1.HookPhaseSucceeded
				default:
					return v1alpha1.HookPhasePending
				}
			},
		},
		"5,000 pods × 3 hooks all failed (e.g. a wrong container name)": {
			pods: 5000, hooks: 3, keepFailed: false,
			phase: func(int, int) v1alpha1.HookPhase { return v1alpha1.HookPhaseFailed },
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			in := bigRecords(tc.pods, tc.hooks, tc.phase)
			for i := range in {
				switch in[i].Phase {
				case v1alpha1.HookPhasePending:
					in[i].Attempts, in[i].Stdout, in[i].Stderr, in[i].ExitCode, in[i].CompletionTime = 0, "", "", nil, nil
					in[i].Message = "waiting for container postgres to be Running"
				case v1alpha1.HookPhaseWaiting:
					in[i].NextAttemptTime = &metav1.Time{Time: st0}
				}
			}
			want := countRecords(in, omission{})
			var mustKeep []v1alpha1.HookRecord
			for i := range in {
				r := in[i]
				if r.Phase == v1alpha1.HookPhaseRunning || r.NextAttemptTime != nil ||
					(tc.keepFailed && r.Phase == v1alpha1.HookPhaseFailed) {
					mustKeep = append(mustKeep, r)
				}
			}

			recs, folded, o := boundRecords(slices.Clone(in), nil, omission{}, statusBudget)
			st := v1alpha1.RestoreHookRunStatus{Hooks: recs, FoldedPods: folded}
			setOmission(&st, o)
			setCounters(&st, want)
			setConditions(&st, phaseDecision{phase: v1alpha1.RunPhaseRunning}, want, 1)
			raw, err := json.Marshal(&v1alpha1.RestoreHookRun{Status: st})
			if err != nil {
				t.Fatal(err)
			}
			if len(raw) >= 1<<20 {
				t.Errorf("status is %d bytes, want < 1 MiB", len(raw))
			}
			t.Logf("status %d bytes, %d records, %d folded pods, omitted %+v", len(raw), len(recs), len(folded), o)

			// Nothing a restarted operator needs is lost: running and retrying records, and (unless the
			// failures alone cannot fit) every failure.
			byKey := map[string]bool{}
			for i := range recs {
				byKey[fmt.Sprint(recs[i].PodUID, recs[i].Index)] = true
			}
			for _, r := range mustKeep {
				if !byKey[fmt.Sprint(r.PodUID, r.Index)] {
					t.Fatalf("record %s #%d (%s) was shed", r.Pod, r.Index, r.Phase)
				}
			}
			// The counters survive a restart: records + omission give back every finished hook.
			got := countRecords(recs, omissionOf(&st))
			if got.succeeded != want.succeeded || got.failed != want.failed || got.skipped != want.skipped {
				t.Errorf("after the bound, finished counts %+v, want %+v", got, want)
			}
			// Every pod with a finished hook is accounted for, by its records or as folded.
			seen := map[types.UID]bool{}
			for i := range recs {
				seen[recs[i].PodUID] = true
			}
			for _, uid := range folded {
				if seen[uid] {
					t.Fatalf("pod %s both folded and recorded", uid)
				}
				seen[uid] = true
			}
			for i := range in {
				if in[i].Phase.IsFinished() && !seen[in[i].PodUID] {
					t.Fatalf("pod %s with finished hooks is neither recorded nor folded", in[i].Pod)
				}
			}
		})
	}
}
