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
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/plan"
	"github.com/restorehooks/restore-hook-operator/internal/policy"
)

// maxConditionMessage bounds a condition's message (the API allows 32 KiB).
const maxConditionMessage = 32 * 1024

// policyStatusInput is what the status of a policy is computed from.
type policyStatusInput struct {
	policy          *v1alpha1.RestoreHookPolicy
	out             policy.Output
	veleroNamespace string
	// createErr is the last failure to create one of the policy's runs, if the last attempt failed.
	createErr string
}

// nextPolicyStatus returns the policy's status after a pass: what to remember (pending runs, handled
// Restores), counters, the last run and the Ready condition.
func nextPolicyStatus(in policyStatusInput) v1alpha1.RestoreHookPolicyStatus {
	p := in.policy
	st := *p.Status.DeepCopy()
	st.PendingRuns = in.out.Pending
	st.HandledRestores = in.out.Handled
	st.RunsCreated += int32(in.out.Confirmed)
	st.RestoresLeftAlone = int32(in.out.LeftAlone)
	setLastRun(&st, in.out.Owned, in.veleroNamespace)
	setPolicyReady(&st, in)
	st.ObservedGeneration = p.Generation
	return st
}

// setLastRun points lastRun at the policy's newest run (owned is newest first), with its phase as seen
// now. When that run is gone (history limit 0 deletes it once finished), the record of it stays.
func setLastRun(st *v1alpha1.RestoreHookPolicyStatus, owned []*v1alpha1.RestoreHookRun, veleroNamespace string) {
	if len(owned) == 0 {
		return
	}
	run := owned[0]
	if st.LastRun != nil && st.LastRun.Name != run.Name && st.LastRun.Time != nil && st.LastRun.Time.After(run.CreationTimestamp.Time) {
		return // the last run recorded is newer, and already deleted
	}
	ns := run.Spec.RestoreRef.Namespace
	if ns == "" {
		ns = veleroNamespace
	}
	t := run.CreationTimestamp
	st.LastRun = &v1alpha1.PolicyRunReference{Name: run.Name, Restore: ns + "/" + run.Spec.RestoreRef.Name,
		Phase: run.Status.Phase, Time: &t}
}

// setPolicyReady sets the Ready condition: False when the selector or template is invalid or a run
// could not be created; True otherwise, with reason Suspended or Active. The message always says how
// many matching Restores were left alone for being older than the policy.
func setPolicyReady(st *v1alpha1.RestoreHookPolicyStatus, in policyStatusInput) {
	p := in.policy
	c := metav1.Condition{Type: v1alpha1.ConditionReady, ObservedGeneration: p.Generation}
	leftAlone := fmt.Sprintf("%d matching %s created before the policy %s left alone",
		in.out.LeftAlone, plural(in.out.LeftAlone, "Restore", "Restores"), plural(in.out.LeftAlone, "was", "were"))
	switch {
	case len(in.out.Invalid) > 0:
		c.Status, c.Reason = metav1.ConditionFalse, in.out.InvalidReason
		c.Message = "No run is created until this is fixed: " + in.out.Invalid.ToAggregate().Error()
	case in.createErr != "":
		c.Status, c.Reason = metav1.ConditionFalse, v1alpha1.PolicyReasonRunCreationFailed
		c.Message = in.createErr
	case p.Spec.Suspend:
		c.Status, c.Reason = metav1.ConditionTrue, v1alpha1.PolicyReasonSuspended
		c.Message = fmt.Sprintf("Suspended: no run is created or deleted; runs already created go on. %s", leftAlone)
	default:
		c.Status, c.Reason = metav1.ConditionTrue, v1alpha1.PolicyReasonActive
		c.Message = fmt.Sprintf("Every matching Restore in namespace %s created from %s on gets one run; %s",
			in.veleroNamespace, p.CreationTimestamp.UTC().Format(time.RFC3339), leftAlone)
	}
	c.Message = plan.Truncate(c.Message, maxConditionMessage)
	meta.SetStatusCondition(&st.Conditions, c)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
