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
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/policy"
)

func policyRun(name, restore string, phase v1alpha1.RunPhase, created time.Time) *v1alpha1.RestoreHookRun {
	return &v1alpha1.RestoreHookRun{
		ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(created)},
		Spec:       v1alpha1.RestoreHookRunSpec{RestoreRef: v1alpha1.RestoreReference{Name: restore, Namespace: "velero"}},
		Status:     v1alpha1.RestoreHookRunStatus{Phase: phase},
	}
}

func TestNextPolicyStatus(t *testing.T) {
	created := metav1.NewTime(st0)
	newPolicy := func(mut func(*v1alpha1.RestoreHookPolicy)) *v1alpha1.RestoreHookPolicy {
		p := &v1alpha1.RestoreHookPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p", Generation: 3, CreationTimestamp: created}}
		p.Status.RunsCreated = 4
		if mut != nil {
			mut(p)
		}
		return p
	}
	t1 := metav1.NewTime(st0.Add(time.Hour))
	type ready struct{ Status, Reason, Message string }
	type want struct {
		RunsCreated int32
		LeftAlone   int32
		LastRun     *v1alpha1.PolicyRunReference
		Pending     []v1alpha1.PendingRun
		Handled     []types.UID
		Ready       ready
	}
	cases := map[string]struct {
		policy    *v1alpha1.RestoreHookPolicy
		out       policy.Output
		createErr string
		want      want
	}{
		"active, runs confirmed, newest run is lastRun": {
			policy: newPolicy(nil),
			out: policy.Output{Confirmed: 2, LeftAlone: 1, Handled: []types.UID{"u1", "u2"},
				Owned: []*v1alpha1.RestoreHookRun{policyRun("r2-p", "r2", v1alpha1.RunPhaseRunning, t1.Time), policyRun("r1-p", "r1", v1alpha1.RunPhaseCompleted, st0)}},
			want: want{RunsCreated: 6, LeftAlone: 1, Handled: []types.UID{"u1", "u2"},
				LastRun: &v1alpha1.PolicyRunReference{Name: "r2-p", Restore: "velero/r2", Phase: v1alpha1.RunPhaseRunning, Time: &t1},
				Ready: ready{"True", v1alpha1.PolicyReasonActive,
					"Every matching Restore in namespace velero created from 2026-11-22T10:00:00Z on gets one run; 1 matching Restore created before the policy was left alone"}},
		},
		"pending runs are remembered": {
			policy: newPolicy(nil),
			out:    policy.Output{Pending: []v1alpha1.PendingRun{{Name: "r3-p", Restore: "r3", RestoreUID: "u3"}}},
			want: want{RunsCreated: 4, Pending: []v1alpha1.PendingRun{{Name: "r3-p", Restore: "r3", RestoreUID: "u3"}},
				Ready: ready{"True", v1alpha1.PolicyReasonActive,
					"Every matching Restore in namespace velero created from 2026-11-22T10:00:00Z on gets one run; 0 matching Restores created before the policy were left alone"}},
		},
		"suspended": {
			policy: newPolicy(func(p *v1alpha1.RestoreHookPolicy) { p.Spec.Suspend = true }),
			out:    policy.Output{LeftAlone: 2},
			want: want{RunsCreated: 4, LeftAlone: 2, Ready: ready{"True", v1alpha1.PolicyReasonSuspended,
				"Suspended: no run is created or deleted; runs already created go on. 2 matching Restores created before the policy were left alone"}},
		},
		"invalid selector": {
			policy: newPolicy(nil),
			out: policy.Output{InvalidReason: v1alpha1.PolicyReasonInvalidSelector, Invalid: field.ErrorList{
				field.Invalid(field.NewPath("spec", "restoreSelector", "backupNames").Index(0), "[x", "not a valid glob pattern")}},
			want: want{RunsCreated: 4, Ready: ready{"False", v1alpha1.PolicyReasonInvalidSelector,
				`No run is created until this is fixed: spec.restoreSelector.backupNames[0]: Invalid value: "[x": not a valid glob pattern`}},
		},
		"a run could not be created": {
			policy:    newPolicy(nil),
			createErr: "Creating run r1-p for Restore velero/r1: denied",
			want:      want{RunsCreated: 4, Ready: ready{"False", v1alpha1.PolicyReasonRunCreationFailed, "Creating run r1-p for Restore velero/r1: denied"}},
		},
		"the last run recorded was deleted and is newer than any left: its record stays": {
			policy: newPolicy(func(p *v1alpha1.RestoreHookPolicy) {
				p.Status.LastRun = &v1alpha1.PolicyRunReference{Name: "r9-p", Restore: "velero/r9", Phase: v1alpha1.RunPhaseCompleted, Time: &t1}
			}),
			out: policy.Output{Owned: []*v1alpha1.RestoreHookRun{policyRun("r1-p", "r1", v1alpha1.RunPhaseRunning, st0)}},
			want: want{RunsCreated: 4, LastRun: &v1alpha1.PolicyRunReference{Name: "r9-p", Restore: "velero/r9", Phase: v1alpha1.RunPhaseCompleted, Time: &t1},
				Ready: ready{"True", v1alpha1.PolicyReasonActive,
					"Every matching Restore in namespace velero created from 2026-11-22T10:00:00Z on gets one run; 0 matching Restores created before the policy were left alone"}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			st := nextPolicyStatus(policyStatusInput{policy: tc.policy, out: tc.out, veleroNamespace: "velero", createErr: tc.createErr})
			c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReady)
			if c == nil {
				t.Fatalf("no Ready condition")
			}
			if c.ObservedGeneration != 3 || st.ObservedGeneration != 3 {
				t.Errorf("observedGeneration %d / condition %d, want 3", st.ObservedGeneration, c.ObservedGeneration)
			}
			got := want{RunsCreated: st.RunsCreated, LeftAlone: st.RestoresLeftAlone, LastRun: st.LastRun,
				Pending: st.PendingRuns, Handled: st.HandledRestores, Ready: ready{string(c.Status), c.Reason, c.Message}}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPolicyReadyMessageIsBounded(t *testing.T) {
	p := &v1alpha1.RestoreHookPolicy{}
	var errs field.ErrorList
	for range 2000 {
		errs = append(errs, field.Invalid(field.NewPath("spec", "template"), strings.Repeat("x", 100), "bad"))
	}
	st := nextPolicyStatus(policyStatusInput{policy: p, out: policy.Output{Invalid: errs, InvalidReason: v1alpha1.PolicyReasonInvalidTemplate}})
	if n := len(meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReady).Message); n > maxConditionMessage {
		t.Errorf("message of %d bytes, over %d", n, maxConditionMessage)
	}
}
