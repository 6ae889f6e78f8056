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
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
)

var t0 = time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)

func restore(name string, created time.Time, lbls map[string]string, backup, schedule string) *velerov1.Restore {
	return &velerov1.Restore{
		ObjectMeta: metav1.ObjectMeta{Namespace: "velero", Name: name, UID: types.UID("uid-" + name),
			CreationTimestamp: metav1.NewTime(created), Labels: lbls},
		Spec: velerov1.RestoreSpec{BackupName: backup, ScheduleName: schedule},
	}
}

func TestSelectorMatches(t *testing.T) {
	nightly := restore("r1", t0, map[string]string{"team": "db", "tier": "gold"}, "nightly-20261122", "nightly")
	byHand := restore("r2", t0, map[string]string{"team": "web"}, "adhoc-1", "")
	cases := map[string]struct {
		sel  v1alpha1.RestoreSelector
		want map[string]bool // restore name → matches
	}{
		"empty selector matches every Restore": {
			sel: v1alpha1.RestoreSelector{}, want: map[string]bool{"r1": true, "r2": true},
		},
		"matchLabels": {
			sel: v1alpha1.RestoreSelector{MatchLabels: map[string]string{"team": "db"}}, want: map[string]bool{"r1": true, "r2": false},
		},
		"matchExpressions": {
			sel: v1alpha1.RestoreSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "team", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"db"}}}},
			want: map[string]bool{"r1": false, "r2": true},
		},
		"backupNames glob": {
			sel: v1alpha1.RestoreSelector{BackupNames: []string{"nightly-*"}}, want: map[string]bool{"r1": true, "r2": false},
		},
		"backupNames: any pattern may match": {
			sel: v1alpha1.RestoreSelector{BackupNames: []string{"weekly-*", "adhoc-?"}}, want: map[string]bool{"r1": false, "r2": true},
		},
		"scheduleNames glob": {
			sel: v1alpha1.RestoreSelector{ScheduleNames: []string{"night*"}}, want: map[string]bool{"r1": true, "r2": false},
		},
		"scheduleNames: a Restore without a schedule matches only *": {
			sel: v1alpha1.RestoreSelector{ScheduleNames: []string{"*"}}, want: map[string]bool{"r1": true, "r2": true},
		},
		"every criterion must match: labels yes, backup no": {
			sel:  v1alpha1.RestoreSelector{MatchLabels: map[string]string{"team": "db"}, BackupNames: []string{"weekly-*"}},
			want: map[string]bool{"r1": false, "r2": false},
		},
		"every criterion must match: all three": {
			sel: v1alpha1.RestoreSelector{MatchLabels: map[string]string{"tier": "gold"}, BackupNames: []string{"nightly-*"},
				ScheduleNames: []string{"nightly"}},
			want: map[string]bool{"r1": true, "r2": false},
		},
		"every criterion must match: schedule fails": {
			sel: v1alpha1.RestoreSelector{MatchLabels: map[string]string{"tier": "gold"}, BackupNames: []string{"nightly-*"},
				ScheduleNames: []string{"hourly"}},
			want: map[string]bool{"r1": false, "r2": false},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			sel, errs := CompileSelector(&tc.sel, field.NewPath("spec", "restoreSelector"))
			if len(errs) > 0 {
				t.Fatalf("CompileSelector: %v", errs)
			}
			got := map[string]bool{"r1": sel.Matches(nightly), "r2": sel.Matches(byHand)}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("matches (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCompileSelectorErrors(t *testing.T) {
	cases := map[string]struct {
		sel  v1alpha1.RestoreSelector
		want []string // substrings of the error text
	}{
		"bad backup glob": {
			sel:  v1alpha1.RestoreSelector{BackupNames: []string{"ok-*", "nightly-[0-9"}},
			want: []string{"spec.restoreSelector.backupNames[1]", `"nightly-[0-9"`, "not a valid glob pattern"},
		},
		"bad schedule glob": {
			sel:  v1alpha1.RestoreSelector{ScheduleNames: []string{"night[ly"}},
			want: []string{"spec.restoreSelector.scheduleNames[0]", `"night[ly"`},
		},
		"bad operator": {
			sel: v1alpha1.RestoreSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "team", Operator: "Bogus", Values: []string{"x"}}}},
			want: []string{"spec.restoreSelector.matchExpressions[0].operator", "Bogus"},
		},
		"bad label key": {
			sel:  v1alpha1.RestoreSelector{MatchLabels: map[string]string{"bad key!": "x"}},
			want: []string{"spec.restoreSelector.matchLabels", "bad key!"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			sel, errs := CompileSelector(&tc.sel, field.NewPath("spec", "restoreSelector"))
			if sel != nil || len(errs) == 0 {
				t.Fatalf("want errors and no selector, got %v, %v", sel, errs)
			}
			if sel.Matches(restore("r", t0, nil, "", "")) {
				t.Errorf("a selector that did not compile matched")
			}
			msg := errs.ToAggregate().Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
		})
	}
}

func TestCreatedAfter(t *testing.T) {
	cases := map[string]struct {
		restore, policy time.Time
		want            bool
	}{
		"a second later":                        {t0.Add(time.Second), t0, true},
		"a second earlier":                      {t0.Add(-time.Second), t0, false},
		"same second (tie): counts as after":    {t0, t0, true},
		"same second, sub-second parts ignored": {t0.Add(100 * time.Millisecond), t0.Add(900 * time.Millisecond), true},
		"a day earlier":                         {t0.Add(-24 * time.Hour), t0, false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := CreatedAfter(tc.restore, tc.policy); got != tc.want {
				t.Errorf("CreatedAfter = %v, want %v", got, tc.want)
			}
		})
	}
}

func policyAt(created time.Time, sel v1alpha1.RestoreSelector) *v1alpha1.RestoreHookPolicy {
	return &v1alpha1.RestoreHookPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: "velero", Name: "postgres-dr", UID: "policy-uid",
			CreationTimestamp: metav1.NewTime(created)},
		Spec: v1alpha1.RestoreHookPolicySpec{RestoreSelector: sel},
	}
}

func TestGivesRun(t *testing.T) {
	sel := v1alpha1.RestoreSelector{MatchLabels: map[string]string{"team": "db"}, ScheduleNames: []string{"nightly"}}
	matching := func(created time.Time) *velerov1.Restore {
		return restore("r1", created, map[string]string{"team": "db"}, "nightly-1", "nightly")
	}
	now := metav1.NewTime(t0)
	cases := map[string]struct {
		policy  func() *v1alpha1.RestoreHookPolicy
		restore *velerov1.Restore
		want    bool
	}{
		"matching, created after": {
			policy: func() *v1alpha1.RestoreHookPolicy { return policyAt(t0, sel) }, restore: matching(t0.Add(time.Minute)), want: true,
		},
		"matching, created in the policy's second": {
			policy: func() *v1alpha1.RestoreHookPolicy { return policyAt(t0, sel) }, restore: matching(t0), want: true,
		},
		"matching, created before the policy": {
			policy: func() *v1alpha1.RestoreHookPolicy { return policyAt(t0, sel) }, restore: matching(t0.Add(-time.Minute)),
		},
		"not matching": {
			policy:  func() *v1alpha1.RestoreHookPolicy { return policyAt(t0, sel) },
			restore: restore("r1", t0.Add(time.Minute), map[string]string{"team": "web"}, "nightly-1", "nightly"),
		},
		"suspended": {
			policy: func() *v1alpha1.RestoreHookPolicy {
				p := policyAt(t0, sel)
				p.Spec.Suspend = true
				return p
			}, restore: matching(t0.Add(time.Minute)),
		},
		"policy being deleted": {
			policy: func() *v1alpha1.RestoreHookPolicy {
				p := policyAt(t0, sel)
				p.DeletionTimestamp = &now
				return p
			}, restore: matching(t0.Add(time.Minute)),
		},
		"invalid selector": {
			policy: func() *v1alpha1.RestoreHookPolicy {
				return policyAt(t0, v1alpha1.RestoreSelector{BackupNames: []string{"[x"}})
			}, restore: matching(t0.Add(time.Minute)),
		},
		"Restore outside the Velero namespace": {
			policy: func() *v1alpha1.RestoreHookPolicy { return policyAt(t0, sel) },
			restore: func() *velerov1.Restore {
				r := matching(t0.Add(time.Minute))
				r.Namespace = "elsewhere"
				return r
			}(),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := GivesRun(tc.policy(), tc.restore, "velero"); got != tc.want {
				t.Errorf("GivesRun = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRunName(t *testing.T) {
	long := strings.Repeat("r", 40) + ".x"
	cases := map[string]struct {
		got, want string
	}{
		"short: <restore>-<policy>": {RunName("r-0412", "postgres-dr"), "r-0412-postgres-dr"},
		"exactly 63 stays":          {RunName(strings.Repeat("a", 51), "postgres-dr"), strings.Repeat("a", 51) + "-postgres-dr"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
	names := []string{
		RunName(long, "postgres-disaster-recovery-policy"),
		RunName(long, "postgres-disaster-recovery-policy2"),
		AlternateRunName("r1", "p", "uid-1"),
		AlternateRunName("r1", "p", "uid-2"),
		AlternateRunName(long, "postgres-disaster-recovery-policy", "uid-1"),
		RunName(strings.Repeat("a", 51)+".bbbbbbbbbbbbbbbbbbbb", "p"), // cut right after the dot: must not leave ".-"
	}
	seen := map[string]bool{}
	for _, n := range names {
		if len(n) > MaxRunName {
			t.Errorf("%q is %d characters, over %d", n, len(n), MaxRunName)
		}
		if errs := validation.IsDNS1123Subdomain(n); len(errs) > 0 {
			t.Errorf("%q is not a valid object name: %v", n, errs)
		}
		if seen[n] {
			t.Errorf("%q made twice from different inputs", n)
		}
		seen[n] = true
	}
	if RunName(long, "postgres-disaster-recovery-policy") != names[0] {
		t.Errorf("RunName is not stable")
	}
	if !strings.HasPrefix(names[0], long[:40]) {
		t.Errorf("shortened name %q does not keep the start of <restore>-<policy>", names[0])
	}
	if AlternateRunName("r1", "p", "uid-1") != names[2] {
		t.Errorf("AlternateRunName is not stable")
	}
}
