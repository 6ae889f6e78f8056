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
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/scope"
)

// ownedRun is a run of the policy (policyAt's UID) for the Restore named, in phase, finished at done
// (zero: not finished).
func ownedRun(p *v1alpha1.RestoreHookPolicy, restoreName string, phase v1alpha1.RunPhase, done time.Time) *v1alpha1.RestoreHookRun {
	pr := v1alpha1.PendingRun{Name: RunName(restoreName, p.Name), Restore: restoreName, RestoreUID: types.UID("uid-" + restoreName)}
	run := NewRun(p, pr, "velero")
	run.CreationTimestamp = metav1.NewTime(t0)
	run.Status.Phase = phase
	if !done.IsZero() {
		run.Status.CompletionTime = &metav1.Time{Time: done}
	}
	return run
}

func pending(restoreName string) v1alpha1.PendingRun {
	return v1alpha1.PendingRun{Name: RunName(restoreName, "postgres-dr"), Restore: restoreName, RestoreUID: types.UID("uid-" + restoreName)}
}

func names(runs []*v1alpha1.RestoreHookRun) []string {
	var out []string
	for _, r := range runs {
		out = append(out, r.Name)
	}
	return out
}

func TestDecide(t *testing.T) {
	after := t0.Add(time.Minute)
	base := func(mut ...func(*v1alpha1.RestoreHookPolicy)) *v1alpha1.RestoreHookPolicy {
		p := policyAt(t0, v1alpha1.RestoreSelector{MatchLabels: map[string]string{"team": "db"}})
		for _, m := range mut {
			m(p)
		}
		return p
	}
	db := map[string]string{"team": "db"}
	type want struct {
		Pending   []v1alpha1.PendingRun
		Handled   []types.UID
		Confirmed int
		Create    []string
		Prune     []string
		LeftAlone int
		Invalid   string
	}
	cases := map[string]struct {
		policy   *v1alpha1.RestoreHookPolicy
		restores []*velerov1.Restore
		runs     func(p *v1alpha1.RestoreHookPolicy) []*v1alpha1.RestoreHookRun
		want     want
	}{
		"a matching Restore created after the policy: recorded pending and created": {
			policy:   base(),
			restores: []*velerov1.Restore{restore("r1", after, db, "b", ""), restore("r2", after, map[string]string{"team": "web"}, "b", "")},
			want:     want{Pending: []v1alpha1.PendingRun{pending("r1")}, Create: []string{"r1-postgres-dr"}},
		},
		"Restores created before the policy are left alone and counted": {
			policy: base(),
			restores: []*velerov1.Restore{restore("old1", t0.Add(-time.Hour), db, "b", ""), restore("old2", t0.Add(-time.Second), db, "b", ""),
				restore("oldweb", t0.Add(-time.Hour), nil, "b", "")},
			want: want{LeftAlone: 2},
		},
		"a pending run seen created is confirmed and handled": {
			policy: base(func(p *v1alpha1.RestoreHookPolicy) {
				p.Status.PendingRuns = []v1alpha1.PendingRun{pending("r1")}
			}),
			restores: []*velerov1.Restore{restore("r1", after, db, "b", "")},
			runs: func(p *v1alpha1.RestoreHookPolicy) []*v1alpha1.RestoreHookRun {
				return []*v1alpha1.RestoreHookRun{ownedRun(p, "r1", v1alpha1.RunPhaseRunning, time.Time{})}
			},
			want: want{Handled: []types.UID{"uid-r1"}, Confirmed: 1},
		},
		"a pending run not seen yet (crash after recording it) is created again under the same name": {
			policy: base(func(p *v1alpha1.RestoreHookPolicy) {
				p.Status.PendingRuns = []v1alpha1.PendingRun{pending("r1")}
			}),
			restores: []*velerov1.Restore{restore("r1", after, db, "b", "")},
			want:     want{Pending: []v1alpha1.PendingRun{pending("r1")}, Create: []string{"r1-postgres-dr"}},
		},
		"a handled Restore whose run was deleted gets no second run": {
			policy: base(func(p *v1alpha1.RestoreHookPolicy) {
				p.Status.HandledRestores = []types.UID{"uid-r1"}
			}),
			restores: []*velerov1.Restore{restore("r1", after, db, "b", "")},
			want:     want{Handled: []types.UID{"uid-r1"}},
		},
		"a run of the policy found without a record (status lost) is adopted, not doubled": {
			policy:   base(),
			restores: []*velerov1.Restore{restore("r1", after, db, "b", "")},
			runs: func(p *v1alpha1.RestoreHookPolicy) []*v1alpha1.RestoreHookRun {
				return []*v1alpha1.RestoreHookRun{ownedRun(p, "r1", v1alpha1.RunPhaseRunning, time.Time{})}
			},
			want: want{Handled: []types.UID{"uid-r1"}},
		},
		"a Restore that is gone is forgotten, pending or handled": {
			policy: base(func(p *v1alpha1.RestoreHookPolicy) {
				p.Status.PendingRuns = []v1alpha1.PendingRun{pending("gone1")}
				p.Status.HandledRestores = []types.UID{"uid-gone2"}
			}),
			want: want{},
		},
		"a Restore deleted and created again under its name gets a run under the alternate name": {
			policy: base(func(p *v1alpha1.RestoreHookPolicy) {
				p.Status.HandledRestores = []types.UID{"uid-r1"}
			}),
			restores: []*velerov1.Restore{func() *velerov1.Restore {
				r := restore("r1", after.Add(time.Hour), db, "b", "")
				r.UID = "uid-r1-again"
				return r
			}()},
			runs: func(p *v1alpha1.RestoreHookPolicy) []*v1alpha1.RestoreHookRun {
				return []*v1alpha1.RestoreHookRun{ownedRun(p, "r1", v1alpha1.RunPhaseFailed, after)}
			},
			want: want{
				Pending: []v1alpha1.PendingRun{{Name: AlternateRunName("r1", "postgres-dr", "uid-r1-again"), Restore: "r1", RestoreUID: "uid-r1-again"}},
				Create:  []string{AlternateRunName("r1", "postgres-dr", "uid-r1-again")},
			},
		},
		"a name taken by someone else's run: the alternate name, also for a recorded pending run": {
			policy: base(func(p *v1alpha1.RestoreHookPolicy) {
				p.Status.PendingRuns = []v1alpha1.PendingRun{pending("r2")}
			}),
			restores: []*velerov1.Restore{restore("r1", after, db, "b", ""), restore("r2", after, db, "b", "")},
			runs: func(*v1alpha1.RestoreHookPolicy) []*v1alpha1.RestoreHookRun {
				return []*v1alpha1.RestoreHookRun{
					{ObjectMeta: metav1.ObjectMeta{Namespace: "velero", Name: "r1-postgres-dr"}},
					{ObjectMeta: metav1.ObjectMeta{Namespace: "velero", Name: "r2-postgres-dr"}},
				}
			},
			want: want{
				Pending: []v1alpha1.PendingRun{
					{Name: AlternateRunName("r2", "postgres-dr", "uid-r2"), Restore: "r2", RestoreUID: "uid-r2"},
					{Name: AlternateRunName("r1", "postgres-dr", "uid-r1"), Restore: "r1", RestoreUID: "uid-r1"},
				},
				Create: []string{AlternateRunName("r2", "postgres-dr", "uid-r2"), AlternateRunName("r1", "postgres-dr", "uid-r1")},
			},
		},
		"suspended: no new run, nothing created or pruned, pending kept": {
			policy: base(func(p *v1alpha1.RestoreHookPolicy) {
				p.Spec.Suspend = true
				p.Spec.RunsHistoryLimit = ptr.To[int32](0)
				p.Status.PendingRuns = []v1alpha1.PendingRun{pending("r1")}
			}),
			restores: []*velerov1.Restore{restore("r1", after, db, "b", ""), restore("r2", after, db, "b", ""), restore("r3", after, db, "b", "")},
			runs: func(p *v1alpha1.RestoreHookPolicy) []*v1alpha1.RestoreHookRun {
				return []*v1alpha1.RestoreHookRun{ownedRun(p, "r3", v1alpha1.RunPhaseCompleted, after)}
			},
			want: want{Pending: []v1alpha1.PendingRun{pending("r1")}, Handled: []types.UID{"uid-r3"}},
		},
		"history: finished runs beyond the limit go, oldest finished first; unfinished ones stay": {
			policy: base(func(p *v1alpha1.RestoreHookPolicy) { p.Spec.RunsHistoryLimit = ptr.To[int32](1) }),
			restores: []*velerov1.Restore{restore("a", after, db, "b", ""), restore("b", after, db, "b", ""),
				restore("c", after, db, "b", ""), restore("d", after, db, "b", "")},
			runs: func(p *v1alpha1.RestoreHookPolicy) []*v1alpha1.RestoreHookRun {
				return []*v1alpha1.RestoreHookRun{
					ownedRun(p, "a", v1alpha1.RunPhaseCompleted, after.Add(3*time.Minute)),
					ownedRun(p, "b", v1alpha1.RunPhasePartiallyFailed, after.Add(1*time.Minute)),
					ownedRun(p, "c", v1alpha1.RunPhaseRunning, time.Time{}),
					ownedRun(p, "d", v1alpha1.RunPhaseFailed, after.Add(2*time.Minute)),
				}
			},
			want: want{Handled: []types.UID{"uid-a", "uid-b", "uid-c", "uid-d"}, Prune: []string{"b-postgres-dr", "d-postgres-dr"}},
		},
		"history limit 0 keeps no finished run, and never an unfinished one": {
			policy:   base(func(p *v1alpha1.RestoreHookPolicy) { p.Spec.RunsHistoryLimit = ptr.To[int32](0) }),
			restores: []*velerov1.Restore{restore("a", after, db, "b", ""), restore("c", after, db, "b", "")},
			runs: func(p *v1alpha1.RestoreHookPolicy) []*v1alpha1.RestoreHookRun {
				return []*v1alpha1.RestoreHookRun{
					ownedRun(p, "a", v1alpha1.RunPhaseCompleted, after), ownedRun(p, "c", v1alpha1.RunPhasePending, time.Time{}),
				}
			},
			want: want{Handled: []types.UID{"uid-a", "uid-c"}, Prune: []string{"a-postgres-dr"}},
		},
		"default history limit is 10": {
			policy: base(),
			restores: func() []*velerov1.Restore {
				var rs []*velerov1.Restore
				for _, n := range strings.Split("a b c d e f g h i j k", " ") {
					rs = append(rs, restore(n, after, db, "b", ""))
				}
				return rs
			}(),
			runs: func(p *v1alpha1.RestoreHookPolicy) []*v1alpha1.RestoreHookRun {
				var runs []*v1alpha1.RestoreHookRun
				for i, n := range strings.Split("a b c d e f g h i j k", " ") {
					runs = append(runs, ownedRun(p, n, v1alpha1.RunPhaseCompleted, after.Add(time.Duration(i)*time.Minute)))
				}
				return runs
			},
			want: want{Handled: []types.UID{"uid-a", "uid-b", "uid-c", "uid-d", "uid-e", "uid-f", "uid-g", "uid-h", "uid-i", "uid-j", "uid-k"},
				Prune: []string{"a-postgres-dr"}},
		},
		"invalid selector: nothing matched, nothing created": {
			policy:   base(func(p *v1alpha1.RestoreHookPolicy) { p.Spec.RestoreSelector.BackupNames = []string{"[bad"} }),
			restores: []*velerov1.Restore{restore("r1", after, db, "b", "")},
			want:     want{Invalid: v1alpha1.PolicyReasonInvalidSelector},
		},
		"invalid template (reaches another namespace from a non-admin namespace): nothing created": {
			policy: base(func(p *v1alpha1.RestoreHookPolicy) {
				p.Namespace = "team-a"
				p.Spec.Template.Spec.Hooks.Resources = []v1alpha1.RestoreResourceHookSpec{{Name: "h", IncludedNamespaces: []string{"prod"},
					PostHooks: []v1alpha1.RestoreResourceHook{{Exec: &v1alpha1.ExecRestoreHook{Command: []string{"true"}}}}}}
			}),
			restores: []*velerov1.Restore{restore("r1", after, db, "b", "")},
			want:     want{Invalid: v1alpha1.PolicyReasonInvalidTemplate},
		},
		"a Restore being deleted gets no run": {
			policy: base(),
			restores: []*velerov1.Restore{func() *velerov1.Restore {
				r := restore("r1", after, db, "b", "")
				r.DeletionTimestamp = &metav1.Time{Time: after}
				return r
			}()},
			want: want{},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var runs []*v1alpha1.RestoreHookRun
			if tc.runs != nil {
				runs = tc.runs(tc.policy)
			}
			out := Decide(Input{Policy: tc.policy, VeleroNamespace: "velero", Scope: scope.New("velero"),
				Restores: tc.restores, Runs: runs})
			got := want{Pending: out.Pending, Handled: out.Handled, Confirmed: out.Confirmed,
				Prune: names(out.Prune), LeftAlone: out.LeftAlone, Invalid: out.InvalidReason}
			for _, c := range out.Create {
				got.Create = append(got.Create, c.Name)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Decide (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewRun(t *testing.T) {
	p := policyAt(t0, v1alpha1.RestoreSelector{})
	p.Annotations = map[string]string{v1alpha1.AuthoredByAnnotation: "alice"}
	p.Spec.Template.Metadata = v1alpha1.RestoreHookRunTemplateMetadata{
		Labels:      map[string]string{"app": "db", v1alpha1.PolicyLabel: "forged"},
		Annotations: map[string]string{"note": "x", v1alpha1.AuthoredByAnnotation: "mallory"},
	}
	p.Spec.Template.Spec.PodAnnotations = v1alpha1.PodAnnotationsIgnore
	p.Spec.Template.Spec.Hooks.Resources = []v1alpha1.RestoreResourceHookSpec{{Name: "h"}}
	run := NewRun(p, pending("r1"), "velero")
	want := &v1alpha1.RestoreHookRun{
		ObjectMeta: metav1.ObjectMeta{Namespace: "velero", Name: "r1-postgres-dr",
			Labels:      map[string]string{"app": "db", v1alpha1.PolicyLabel: "postgres-dr", v1alpha1.RestoreUIDLabel: "uid-r1"},
			Annotations: map[string]string{"note": "x", v1alpha1.AuthoredByAnnotation: "alice"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "hooks.restorehooks.io/v1alpha1", Kind: "RestoreHookPolicy",
				Name: "postgres-dr", UID: "policy-uid", Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}},
		Spec: v1alpha1.RestoreHookRunSpec{RestoreRef: v1alpha1.RestoreReference{Name: "r1", Namespace: "velero"},
			Hooks: p.Spec.Template.Spec.Hooks, PodAnnotations: v1alpha1.PodAnnotationsIgnore},
	}
	if diff := cmp.Diff(want, run); diff != "" {
		t.Errorf("NewRun (-want +got):\n%s", diff)
	}
	if !OwnedBy(run, p) {
		t.Errorf("OwnedBy = false for the policy's own run")
	}
}

func TestValidateTemplate(t *testing.T) {
	execHook := []v1alpha1.RestoreResourceHook{{Exec: &v1alpha1.ExecRestoreHook{Command: []string{"true"}}}}
	cases := map[string]struct {
		mut  func(*v1alpha1.RestoreHookPolicy)
		want []string // substrings; none for a valid template
	}{
		"valid": {mut: func(p *v1alpha1.RestoreHookPolicy) {
			p.Spec.Template.Spec.Hooks.Resources = []v1alpha1.RestoreResourceHookSpec{{Name: "h", IncludedNamespaces: []string{"prod"}, PostHooks: execHook}}
		}},
		"restoreRef set": {mut: func(p *v1alpha1.RestoreHookPolicy) {
			p.Spec.Template.Spec.RestoreRef = &v1alpha1.RestoreReference{Name: "r1"}
		}, want: []string{"spec.template.spec.restoreRef"}},
		"hooks checked as a run's": {mut: func(p *v1alpha1.RestoreHookPolicy) {
			p.Spec.Template.Spec.Hooks.Resources = []v1alpha1.RestoreResourceHookSpec{{Name: "h", ExcludedNamespaces: []string{"[x"},
				PostHooks: []v1alpha1.RestoreResourceHook{{Exec: &v1alpha1.ExecRestoreHook{}}}}}
		}, want: []string{"spec.template.spec.hooks.resources[0].excludedNamespaces[0]", "spec.template.spec.hooks.resources[0].postHooks[0].exec.command"}},
		"other namespace outside the admin namespaces": {mut: func(p *v1alpha1.RestoreHookPolicy) {
			p.Namespace = "team-a"
			p.Spec.Template.Spec.Hooks.Resources = []v1alpha1.RestoreResourceHookSpec{{Name: "h", IncludedNamespaces: []string{"team-a", "prod"}, PostHooks: execHook}}
		}, want: []string{`its template names "prod"`}},
		"reserved metadata": {mut: func(p *v1alpha1.RestoreHookPolicy) {
			p.Spec.Template.Metadata.Labels = map[string]string{v1alpha1.PolicyLabel: "x", "bad key!": "v"}
			p.Spec.Template.Metadata.Annotations = map[string]string{v1alpha1.AuthoredByAnnotation: "root"}
		}, want: []string{"spec.template.metadata.labels[hooks.restorehooks.io/policy]", "bad key!",
			"spec.template.metadata.annotations[hooks.restorehooks.io/authored-by]"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := policyAt(t0, v1alpha1.RestoreSelector{})
			tc.mut(p)
			errs := ValidateTemplate(p, scope.New("velero"))
			if len(tc.want) == 0 {
				if len(errs) > 0 {
					t.Fatalf("unexpected errors: %v", errs)
				}
				return
			}
			msg := errs.ToAggregate().Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("errors %q lack %q", msg, w)
				}
			}
		})
	}
}
