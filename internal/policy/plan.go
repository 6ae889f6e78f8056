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

package policy

import (
	"cmp"
	"slices"
	"time"

	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/scope"
)

// Input is what one pass over a policy observed.
type Input struct {
	Policy          *v1alpha1.RestoreHookPolicy
	VeleroNamespace string
	Scope           scope.Scope
	// Restores are the Restores of the Velero namespace.
	Restores []*velerov1.Restore
	// Runs are the runs of the policy's namespace: its own, and any other whose name a new run could take.
	Runs []*v1alpha1.RestoreHookRun
}

// Output is what the pass decided. Pending and Handled are recorded in the policy's status before
// anything is created or deleted, so a crash between the two never loses or repeats a run.
type Output struct {
	// Invalid says why the policy creates no run: its selector or its template is invalid.
	Invalid field.ErrorList
	// InvalidReason is the Ready condition's reason when Invalid is set.
	InvalidReason string
	// Pending are the runs decided but not seen created: recorded, then created (by their recorded name).
	Pending []v1alpha1.PendingRun
	// Handled are the UIDs of existing Restores that got their run.
	Handled []types.UID
	// Confirmed counts pending runs seen created in this pass (they add to status.runsCreated).
	Confirmed int
	// Create are the pending runs to create now: none while suspended or invalid.
	Create []v1alpha1.PendingRun
	// Prune are finished runs to delete to keep runsHistoryLimit.
	Prune []*v1alpha1.RestoreHookRun
	// Owned are the policy's runs, newest first.
	Owned []*v1alpha1.RestoreHookRun
	// LeftAlone counts the Restores the selector matches that were created before the policy.
	LeftAlone int
}

// Decide computes one pass of a policy (SPEC §10): which matching Restores get a run now, which runs
// were created since the last pass, which finished runs go, and what to remember. It is pure.
//
// Exactly once: a Restore gets a run when it matches, was created after the policy, and is neither
// handled (its run was seen, even if since deleted) nor pending (decided, maybe created) nor the
// Restore of one of the policy's runs. Restores are told apart by UID: one deleted and created again
// under its name is a new Restore; since its old run may still hold RunName, the new run then takes
// AlternateRunName.
func Decide(in Input) Output {
	p := in.Policy
	var out Output
	existing := make(map[types.UID]*velerov1.Restore, len(in.Restores))
	for _, r := range in.Restores {
		if r.Namespace == in.VeleroNamespace {
			existing[r.UID] = r
		}
	}
	byName := make(map[string]*v1alpha1.RestoreHookRun, len(in.Runs))
	ownedFor := map[types.UID]*v1alpha1.RestoreHookRun{}
	for _, run := range in.Runs {
		byName[run.Name] = run
		if OwnedBy(run, p) {
			out.Owned = append(out.Owned, run)
			ownedFor[types.UID(run.Labels[v1alpha1.RestoreUIDLabel])] = run
		}
	}
	slices.SortFunc(out.Owned, newestFirst)

	handled := sets.New[types.UID]()
	for _, uid := range p.Status.HandledRestores {
		if existing[uid] != nil {
			handled.Insert(uid)
		}
	}
	for uid := range ownedFor {
		if existing[uid] != nil {
			handled.Insert(uid)
		}
	}
	// taken reports whether a name is held by a run other than the policy's run for the Restore.
	taken := func(name string, uid types.UID) bool {
		run := byName[name]
		return run != nil && (!OwnedBy(run, p) || types.UID(run.Labels[v1alpha1.RestoreUIDLabel]) != uid)
	}
	pendingUIDs := sets.New[types.UID]()
	for _, pr := range p.Status.PendingRuns {
		switch {
		case ownedFor[pr.RestoreUID] != nil:
			out.Confirmed++
		case existing[pr.RestoreUID] == nil:
			// The Restore is gone before its run was created: nothing left to hook.
		default:
			if taken(pr.Name, pr.RestoreUID) {
				pr.Name = AlternateRunName(pr.Restore, p.Name, pr.RestoreUID)
			}
			out.Pending = append(out.Pending, pr)
			pendingUIDs.Insert(pr.RestoreUID)
		}
	}

	sel, errs := CompileSelector(&p.Spec.RestoreSelector, field.NewPath("spec", "restoreSelector"))
	switch {
	case len(errs) > 0:
		out.Invalid, out.InvalidReason = errs, v1alpha1.PolicyReasonInvalidSelector
	default:
		if errs := ValidateTemplate(p, in.Scope); len(errs) > 0 {
			out.Invalid, out.InvalidReason = errs, v1alpha1.PolicyReasonInvalidTemplate
		}
	}

	if sel != nil {
		restores := make([]*velerov1.Restore, 0, len(existing))
		for _, r := range existing {
			restores = append(restores, r)
		}
		slices.SortFunc(restores, func(a, b *velerov1.Restore) int {
			return cmp.Or(a.CreationTimestamp.Compare(b.CreationTimestamp.Time), cmp.Compare(a.Name, b.Name))
		})
		for _, r := range restores {
			if handled.Has(r.UID) || pendingUIDs.Has(r.UID) || ownedFor[r.UID] != nil || r.DeletionTimestamp != nil ||
				!sel.Matches(r) {
				continue
			}
			if !CreatedAfter(r.CreationTimestamp.Time, p.CreationTimestamp.Time) {
				out.LeftAlone++
				continue
			}
			if p.Spec.Suspend || out.Invalid != nil {
				// Decided when the policy is resumed or fixed, still by the created-after rule.
				continue
			}
			pr := v1alpha1.PendingRun{Name: RunName(r.Name, p.Name), Restore: r.Name, RestoreUID: r.UID}
			if taken(pr.Name, r.UID) {
				pr.Name = AlternateRunName(r.Name, p.Name, r.UID)
			}
			out.Pending = append(out.Pending, pr)
		}
	}
	if handled.Len() > 0 {
		// Sorted, so an unchanged set leaves the status unchanged (and unwritten).
		out.Handled = sets.List(handled)
	}
	if p.Spec.Suspend || out.Invalid != nil {
		return out
	}
	out.Create = slices.Clone(out.Pending)
	out.Prune = prune(out.Owned, historyLimit(p))
	return out
}

// historyLimit is the policy's runsHistoryLimit, defaulted.
func historyLimit(p *v1alpha1.RestoreHookPolicy) int {
	if p.Spec.RunsHistoryLimit == nil {
		return v1alpha1.DefaultRunsHistoryLimit
	}
	return max(0, int(*p.Spec.RunsHistoryLimit))
}

// prune returns the finished runs beyond the newest limit ones, oldest finished first. A run that has
// not finished is never deleted, nor counted against the limit.
func prune(owned []*v1alpha1.RestoreHookRun, limit int) []*v1alpha1.RestoreHookRun {
	var finished []*v1alpha1.RestoreHookRun
	for _, run := range owned {
		if run.Status.Phase.IsTerminal() && run.DeletionTimestamp == nil {
			finished = append(finished, run)
		}
	}
	if len(finished) <= limit {
		return nil
	}
	// Newest finished first; what lies beyond the limit goes, the oldest first.
	slices.SortFunc(finished, func(a, b *v1alpha1.RestoreHookRun) int {
		return cmp.Or(finishedAt(b).Compare(finishedAt(a)), cmp.Compare(b.Name, a.Name))
	})
	out := finished[limit:]
	slices.Reverse(out)
	return out
}

func finishedAt(run *v1alpha1.RestoreHookRun) time.Time {
	if t := run.Status.CompletionTime; t != nil {
		return t.Time
	}
	return run.CreationTimestamp.Time
}

func newestFirst(a, b *v1alpha1.RestoreHookRun) int {
	return cmp.Or(b.CreationTimestamp.Compare(a.CreationTimestamp.Time), cmp.Compare(b.Name, a.Name))
}
