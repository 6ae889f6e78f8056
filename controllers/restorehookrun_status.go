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
	"fmt"
	"slices"
	"strings"
	"time"

	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/plan"
)

// statusBudget is how many bytes of the status the hook records and folded pods may take. The whole
// object must stay under 1 MiB (etcd's limit is 1.5 MiB); the rest of the status is small.
const statusBudget = 900 * 1024

// restoreSettle is how long after the Restore finished the run keeps looking for pods before it
// concludes: pod and Restore events arrive on separate watches, so a pod created just before the
// Restore finished may be seen a moment later.
const restoreSettle = 2 * time.Second

// restoreCanCreatePods reports whether Velero may still create pods for a Restore in this phase.
func restoreCanCreatePods(phase velerov1.RestorePhase) bool {
	return phase == "" || phase == velerov1.RestorePhaseNew || phase == velerov1.RestorePhaseInProgress
}

// restoreMayCreatePods reports whether pods of the Restore may still appear: it is New or InProgress, or
// finished so recently that the cache may not hold its last pods yet. A Restore that is gone creates none.
// until is when that ends for a Restore that just finished (zero otherwise): a pass then must look again,
// since no event marks it.
func restoreMayCreatePods(restore *velerov1.Restore, now time.Time) (may bool, until time.Time) {
	if restore == nil {
		return false, time.Time{}
	}
	if restoreCanCreatePods(restore.Status.Phase) {
		return true, time.Time{}
	}
	if done := restore.Status.CompletionTimestamp; done != nil && now.Before(done.Add(restoreSettle)) {
		return true, done.Add(restoreSettle)
	}
	return false, time.Time{}
}

// phaseInput is what the run's phase is decided from.
type phaseInput struct {
	prev        v1alpha1.RunPhase
	restore     *velerov1.Restore // nil when not found
	everSeen    bool              // the Restore was seen by an earlier pass (status.restorePhase set)
	created     time.Time         // the run's creation time
	maxWait     time.Duration
	podsInScope int
	unfinished  int
	failed      int // Failed or Skipped hooks
	now         time.Time
}

// phaseDecision is the run's phase and, for Failed runs, why.
type phaseDecision struct {
	phase   v1alpha1.RunPhase
	reason  string
	message string
	// recheck is when the decision may change without an event (zero: only on events).
	recheck time.Time
}

// decidePhase implements SPEC §5's run lifecycle. A terminal phase is final.
func decidePhase(in phaseInput) phaseDecision {
	if in.prev.IsTerminal() {
		return phaseDecision{phase: in.prev}
	}
	if in.restore == nil {
		if in.everSeen && in.unfinished > 0 {
			return phaseDecision{phase: v1alpha1.RunPhaseRunning, reason: v1alpha1.ConditionReasonRestoreDeleted,
				message: fmt.Sprintf("the Restore was deleted while the run was in progress; waiting for %s already executing", hooksN(in.unfinished))}
		}
		if in.everSeen {
			return phaseDecision{phase: v1alpha1.RunPhaseFailed, reason: v1alpha1.ConditionReasonRestoreDeleted,
				message: "the Restore was deleted while the run was in progress; hooks not started were skipped"}
		}
		deadline := in.created.Add(in.maxWait)
		if !in.now.Before(deadline) {
			return phaseDecision{phase: v1alpha1.RunPhaseFailed, reason: v1alpha1.ConditionReasonRestoreNotFound,
				message: fmt.Sprintf("the Restore did not appear within maxWait (%s)", in.maxWait)}
		}
		return phaseDecision{phase: v1alpha1.RunPhasePending, reason: v1alpha1.ConditionReasonInProgress,
			message: "waiting for the Restore to exist", recheck: deadline}
	}
	phase := in.restore.Status.Phase
	if restoreCanCreatePods(phase) || in.unfinished > 0 {
		return phaseDecision{phase: v1alpha1.RunPhaseRunning, reason: v1alpha1.ConditionReasonInProgress,
			message: fmt.Sprintf("%s outstanding; Restore phase %q", hooksN(in.unfinished), phase)}
	}
	if done := in.restore.Status.CompletionTimestamp; done != nil && in.now.Before(done.Add(restoreSettle)) {
		return phaseDecision{phase: v1alpha1.RunPhaseRunning, reason: v1alpha1.ConditionReasonInProgress,
			message: "the Restore just finished; looking for its last pods", recheck: done.Add(restoreSettle)}
	}
	if (phase == velerov1.RestorePhaseFailed || phase == velerov1.RestorePhaseFailedValidation) && in.podsInScope == 0 {
		return phaseDecision{phase: v1alpha1.RunPhaseFailed, reason: v1alpha1.ConditionReasonRestoreFailed,
			message: fmt.Sprintf("the Restore ended %s with no pods in scope", phase)}
	}
	if in.failed > 0 {
		return phaseDecision{phase: v1alpha1.RunPhasePartiallyFailed, reason: v1alpha1.ConditionReasonHooksFailed,
			message: fmt.Sprintf("%s failed or skipped", hooksN(in.failed))}
	}
	return phaseDecision{phase: v1alpha1.RunPhaseCompleted, reason: v1alpha1.ConditionReasonNoFailures}
}

// omission counts the finished hooks whose records were folded out of the status, by final phase.
type omission struct {
	succeeded, failed, skipped int32
}

func (o omission) total() int32 { return o.succeeded + o.failed + o.skipped }

// omissionOf reads the omission counters of a status.
func omissionOf(st *v1alpha1.RestoreHookRunStatus) omission {
	return omission{failed: st.HooksOmittedFailed, skipped: st.HooksOmittedSkipped,
		succeeded: st.HooksOmitted - st.HooksOmittedFailed - st.HooksOmittedSkipped}
}

// setOmission writes the omission counters of a status.
func setOmission(st *v1alpha1.RestoreHookRunStatus, o omission) {
	st.HooksOmitted, st.HooksOmittedFailed, st.HooksOmittedSkipped = o.total(), o.failed, o.skipped
}

// counts are the status counters, from records plus folded (omitted) hooks.
type counts struct {
	attempted, succeeded, failed, skipped, pending int32
	// notOurs counts the skipped hooks that Velero's server or another run runs: not attempted here, and
	// never a failure (SPEC §9).
	notOurs int32
}

func countRecords(records []v1alpha1.HookRecord, o omission) counts {
	c := counts{attempted: int32(len(records)) + o.total(), succeeded: o.succeeded, failed: o.failed, skipped: o.skipped}
	for i := range records {
		switch records[i].Phase {
		case v1alpha1.HookPhaseSucceeded:
			c.succeeded++
		case v1alpha1.HookPhaseFailed:
			c.failed++
		case v1alpha1.HookPhaseSkipped:
			c.skipped++
			if records[i].NotOurs() {
				c.notOurs++
				c.attempted--
			}
		default:
			c.pending++
		}
	}
	return c
}

// veleroSpecHookCount is how many resource hook specs the Restore has of its own (Velero runs them).
func veleroSpecHookCount(restore *velerov1.Restore) int {
	if restore == nil {
		return 0
	}
	return len(restore.Spec.Hooks.Resources)
}

// setVeleroSpecHooks says, as a condition, that the Restore's own hook specs are Velero's (SPEC §9).
func setVeleroSpecHooks(st *v1alpha1.RestoreHookRunStatus, restore *velerov1.Restore, generation int64) {
	n := veleroSpecHookCount(restore)
	if n == 0 {
		meta.RemoveStatusCondition(&st.Conditions, v1alpha1.ConditionVeleroSpecHooks)
		return
	}
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: v1alpha1.ConditionVeleroSpecHooks,
		Status: metav1.ConditionTrue, Reason: v1alpha1.ConditionReasonNotTracked, ObservedGeneration: generation,
		Message: fmt.Sprintf("Restore %s/%s has %d resource hook specs of its own in spec.hooks: Velero's server runs them, and this run neither runs nor tracks them",
			restore.Namespace, restore.Name, n)})
}

// setCounters writes the counters and the HOOKS column's summary.
func setCounters(st *v1alpha1.RestoreHookRunStatus, c counts) {
	st.HooksAttempted, st.HooksSucceeded, st.HooksFailed = c.attempted, c.succeeded, c.failed
	st.HooksSkipped, st.HooksPending = c.skipped, c.pending
	st.Summary = fmt.Sprintf("%d/%d", c.succeeded, c.attempted)
}

// setConditions sets Completed and Degraded from the phase decision and the counters.
func setConditions(st *v1alpha1.RestoreHookRunStatus, d phaseDecision, c counts, generation int64) {
	completed := metav1.Condition{Type: v1alpha1.ConditionCompleted, Status: metav1.ConditionFalse,
		Reason: v1alpha1.ConditionReasonInProgress, Message: d.message, ObservedGeneration: generation}
	if d.phase.IsTerminal() {
		completed.Status = metav1.ConditionTrue
		completed.Reason = string(d.phase)
		if d.message == "" {
			completed.Message = fmt.Sprintf("%d of %d hooks succeeded", c.succeeded, c.attempted)
		}
	}
	if prev := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionCompleted); prev != nil &&
		prev.Status == metav1.ConditionTrue && d.message == "" {
		completed.Message = prev.Message // a terminal run keeps its closing words
	}
	completed.Message = plan.Truncate(completed.Message, 32*1024)
	meta.SetStatusCondition(&st.Conditions, completed)

	degraded := metav1.Condition{Type: v1alpha1.ConditionDegraded, Status: metav1.ConditionFalse,
		Reason: v1alpha1.ConditionReasonNoFailures, Message: "no hook has failed", ObservedGeneration: generation}
	switch {
	case d.phase == v1alpha1.RunPhaseFailed:
		degraded.Status, degraded.Reason, degraded.Message = metav1.ConditionTrue, d.reason, d.message
	case c.failed+c.skipped-c.notOurs > 0:
		degraded.Status, degraded.Reason = metav1.ConditionTrue, v1alpha1.ConditionReasonHooksFailed
		degraded.Message = fmt.Sprintf("%s failed, %d skipped", hooksN(int(c.failed)), c.skipped-c.notOurs)
		if len(st.Hooks) > 0 {
			degraded.Message += ": " + firstFailures(st.Hooks, 3)
		}
	}
	degraded.Message = plan.Truncate(degraded.Message, 32*1024)
	meta.SetStatusCondition(&st.Conditions, degraded)
}

// firstFailures describes up to n failed records, for the Degraded message.
func firstFailures(records []v1alpha1.HookRecord, n int) string {
	var parts []string
	for i := range records {
		r := &records[i]
		if r.Phase != v1alpha1.HookPhaseFailed {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %s/%s %s", r.Pod, r.Container, r.Hook, r.Reason))
		if len(parts) == n {
			break
		}
	}
	return strings.Join(parts, "; ")
}

// recordSize estimates a record's JSON size: its strings plus the keys and fixed fields.
func recordSize(r *v1alpha1.HookRecord) int {
	return 260 + len(r.Pod) + len(r.PodUID) + len(r.Container) + len(r.Hook) + len(r.Message) +
		len(r.Stdout) + len(r.Stderr) + len(r.Reason)
}

// unstarted reports whether a record holds nothing the planner cannot derive again: a hook that was
// never attempted.
func unstarted(r *v1alpha1.HookRecord) bool {
	return r.Attempts == 0 && !r.Phase.IsFinished() && r.Phase != v1alpha1.HookPhaseRunning
}

// boundRecords keeps the records and folded pods within budget bytes. It sheds, in this order, until
// they fit: output tails of Succeeded hooks; records of pods whose hooks all succeeded (folded: their
// UIDs are kept so a restarted operator knows they ran, and the omission counters keep the totals);
// records of hooks never attempted (the planner derives them again on every pass); output tails of
// other finished hooks; long messages; and last, records of pods whose hooks have all finished with
// failures. Records that a restarted operator needs (Running, or waiting for a retry) are never shed.
func boundRecords(records []v1alpha1.HookRecord, folded []types.UID, o omission, budget int) ([]v1alpha1.HookRecord, []types.UID, omission) {
	size := 40 * len(folded)
	for i := range records {
		size += recordSize(&records[i])
	}
	if size <= budget {
		return records, folded, o
	}
	shed := func(keep func(r *v1alpha1.HookRecord) bool, cut func(r *v1alpha1.HookRecord)) {
		for i := range records {
			if size <= budget {
				return
			}
			if r := &records[i]; keep(r) {
				before := recordSize(r)
				cut(r)
				size -= before - recordSize(r)
			}
		}
	}
	dropOutput := func(r *v1alpha1.HookRecord) { r.Stdout, r.Stderr = "", "" }
	// fold omits the records of pods all of whose records satisfy ok, until the budget is met.
	fold := func(ok func(r *v1alpha1.HookRecord) bool) {
		if size <= budget {
			return
		}
		eligible := map[types.UID]bool{}
		for i := range records {
			uid := records[i].PodUID
			prev, seen := eligible[uid]
			// A singlePod record is what tells a restarted operator which pod its entry chose: never folded.
			eligible[uid] = (prev || !seen) && uid != "" && ok(&records[i]) && !records[i].SinglePod
		}
		chosen := map[types.UID]bool{}
		perPod := map[types.UID]int{}
		for i := range records {
			perPod[records[i].PodUID] += recordSize(&records[i])
		}
		for i := range records {
			uid := records[i].PodUID
			if size <= budget {
				break
			}
			if eligible[uid] && !chosen[uid] {
				chosen[uid] = true
				size += 40 - perPod[uid]
			}
		}
		if len(chosen) == 0 {
			return
		}
		kept := records[:0:0]
		for i := range records {
			r := &records[i]
			if !chosen[r.PodUID] {
				kept = append(kept, *r)
				continue
			}
			switch r.Phase {
			case v1alpha1.HookPhaseFailed:
				o.failed++
			case v1alpha1.HookPhaseSkipped:
				o.skipped++
			default:
				o.succeeded++
			}
		}
		records = kept
		newly := make([]types.UID, 0, len(chosen))
		for uid := range chosen {
			newly = append(newly, uid)
		}
		slices.Sort(newly)
		folded = append(folded, newly...)
	}

	shed(func(r *v1alpha1.HookRecord) bool { return r.Phase == v1alpha1.HookPhaseSucceeded }, dropOutput)
	fold(func(r *v1alpha1.HookRecord) bool { return r.Phase == v1alpha1.HookPhaseSucceeded })
	if size > budget {
		kept := records[:0:0]
		for i := range records {
			if size > budget && unstarted(&records[i]) {
				size -= recordSize(&records[i])
				continue
			}
			kept = append(kept, records[i])
		}
		records = kept
	}
	shed(func(r *v1alpha1.HookRecord) bool { return r.Phase.IsFinished() }, dropOutput)
	shed(func(r *v1alpha1.HookRecord) bool { return len(r.Message) > 128 },
		func(r *v1alpha1.HookRecord) { r.Message = plan.Truncate(r.Message, 128) })
	fold(func(r *v1alpha1.HookRecord) bool { return r.Phase.IsFinished() })
	return records, folded, o
}

// hooksN says "1 hook" or "n hooks".
func hooksN(n int) string {
	if n == 1 {
		return "1 hook"
	}
	return fmt.Sprintf("%d hooks", n)
}
