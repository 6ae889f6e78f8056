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

// Package policy holds the rules of SPEC §10 as pure functions: which Restores a RestoreHookPolicy gives
// a run (selector, globs, suspend, created after the policy), what that run is called and made of, and
// what one reconcile pass of a policy decides (runs to create, runs to delete, what to remember). The
// policy reconciler and the pod webhook's takeover (SPEC §9) both decide with it.
package policy

import (
	"encoding/json"
	"time"

	"github.com/gobwas/glob"
	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
)

// Selector is a compiled RestoreSelector.
type Selector struct {
	labels    labels.Selector
	backups   []glob.Glob
	schedules []glob.Glob
	// hasBackups/hasSchedules say whether the criterion was given: an empty list is no criterion.
	hasBackups, hasSchedules bool
}

// CompileSelector compiles a RestoreSelector. Errors name the field (under path, usually
// spec.restoreSelector) and the offending value; a selector with errors matches nothing.
func CompileSelector(s *v1alpha1.RestoreSelector, path *field.Path) (*Selector, field.ErrorList) {
	var errs field.ErrorList
	ls := &metav1.LabelSelector{MatchLabels: s.MatchLabels, MatchExpressions: s.MatchExpressions}
	errs = append(errs, metav1validation.ValidateLabelSelector(ls, metav1validation.LabelSelectorValidationOptions{}, path)...)
	sel, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil && len(errs) == 0 {
		shown, _ := json.Marshal(ls)
		errs = append(errs, field.Invalid(path, string(shown), err.Error()))
	}
	out := &Selector{labels: sel, hasBackups: len(s.BackupNames) > 0, hasSchedules: len(s.ScheduleNames) > 0}
	out.backups, errs = compileGlobs(s.BackupNames, path.Child("backupNames"), errs)
	out.schedules, errs = compileGlobs(s.ScheduleNames, path.Child("scheduleNames"), errs)
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

func compileGlobs(patterns []string, path *field.Path, errs field.ErrorList) ([]glob.Glob, field.ErrorList) {
	out := make([]glob.Glob, 0, len(patterns))
	for i, p := range patterns {
		g, err := glob.Compile(p)
		if err != nil {
			errs = append(errs, field.Invalid(path.Index(i), p, "not a valid glob pattern: "+err.Error()))
			continue
		}
		out = append(out, g)
	}
	return out, errs
}

// Matches reports whether a Restore passes every criterion of the selector: its labels match the label
// selector, its spec.backupName one of the backupNames globs, its spec.scheduleName one of the
// scheduleNames globs. A criterion not given passes; a nil Selector (one that did not compile) matches
// nothing.
func (s *Selector) Matches(r *velerov1.Restore) bool {
	if s == nil || r == nil {
		return false
	}
	if !s.labels.Matches(labels.Set(r.Labels)) {
		return false
	}
	if s.hasBackups && !anyMatch(s.backups, r.Spec.BackupName) {
		return false
	}
	if s.hasSchedules && !anyMatch(s.schedules, r.Spec.ScheduleName) {
		return false
	}
	return true
}

func anyMatch(globs []glob.Glob, s string) bool {
	for _, g := range globs {
		if g.Match(s) {
			return true
		}
	}
	return false
}

// CreatedAfter reports whether a Restore created at restore counts as created after a policy created at
// policy. Creation timestamps have one-second precision, so a Restore created in the policy's own second
// cannot be ordered against it; it counts as created after. A script that applies a policy and then runs
// `velero restore create` within the second means the policy for that Restore, and losing a
// disaster-recovery hook is the worse mistake. It cannot make a hook run twice: a pod restored before
// the policy existed was not taken over, so Velero runs its annotation hooks and the run records them
// RunByVelero (SPEC §9).
func CreatedAfter(restore, policy time.Time) bool {
	return !restore.Truncate(time.Second).Before(policy.Truncate(time.Second))
}

// GivesRun reports whether the policy gives the Restore a run: the Restore is in the Velero namespace,
// the policy is not suspended and not being deleted, its selector compiles and matches the Restore, and
// the Restore was created after the policy (CreatedAfter). It does not say whether the run exists yet.
// The pod webhook uses it for takeover (SPEC §9): a pod whose Restore a policy gives a run is covered
// even before the policy's run exists.
func GivesRun(p *v1alpha1.RestoreHookPolicy, r *velerov1.Restore, veleroNamespace string) bool {
	if p == nil || r == nil || r.Namespace != veleroNamespace || p.Spec.Suspend || p.DeletionTimestamp != nil {
		return false
	}
	sel, errs := CompileSelector(&p.Spec.RestoreSelector, field.NewPath("spec", "restoreSelector"))
	if len(errs) > 0 {
		return false
	}
	return sel.Matches(r) && CreatedAfter(r.CreationTimestamp.Time, p.CreationTimestamp.Time)
}

// HonorsAnnotations reports whether the runs of the policy honour pod annotations (the template's
// podAnnotations is Honor or unset), which is when the pod webhook takes a pod's annotation hooks over
// from Velero on the policy's behalf.
func HonorsAnnotations(p *v1alpha1.RestoreHookPolicy) bool {
	return p != nil && p.Spec.Template.Spec.PodAnnotations != v1alpha1.PodAnnotationsIgnore
}
