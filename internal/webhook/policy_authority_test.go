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
	"context"
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/policy"
)

func TestPolicyAuthority(t *testing.T) {
	const operator = "system:serviceaccount:restore-hook-operator-system:controller-manager"
	newPolicy := func() *v1alpha1.RestoreHookPolicy {
		return &v1alpha1.RestoreHookPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: "velero", Name: "dr", UID: "policy-uid",
				Annotations: map[string]string{v1alpha1.AuthoredByAnnotation: "alice"}},
			Spec: v1alpha1.RestoreHookPolicySpec{Template: v1alpha1.RestoreHookRunTemplate{Spec: v1alpha1.RestoreHookRunTemplateSpec{
				PodAnnotations: v1alpha1.PodAnnotationsIgnore,
				Hooks: v1alpha1.RestoreHooks{Resources: []v1alpha1.RestoreResourceHookSpec{{Name: "h", IncludedNamespaces: []string{"app"},
					PostHooks: []v1alpha1.RestoreResourceHook{{Exec: &v1alpha1.ExecRestoreHook{Command: []string{"true"}}}}}}},
			}}},
		}
	}
	runOf := func(p *v1alpha1.RestoreHookPolicy) *v1alpha1.RestoreHookRun {
		return policy.NewRun(p, v1alpha1.PendingRun{Name: "r1-dr", Restore: "r1", RestoreUID: "u1"}, "velero")
	}
	cases := map[string]struct {
		stored  func() *v1alpha1.RestoreHookPolicy // nil: no policy stored
		run     func(p *v1alpha1.RestoreHookPolicy) *v1alpha1.RestoreHookRun
		user    string
		handled bool
		wantErr string
	}{
		"the operator's run of the policy, as the template says": {
			stored: newPolicy, run: runOf, user: operator, handled: true,
		},
		"someone else claiming the policy's ownership is checked as themselves": {
			stored: newPolicy, run: runOf, user: "bob", handled: false,
		},
		"a run without a policy owner is checked as any run": {
			stored: newPolicy, user: operator, handled: false,
			run: func(p *v1alpha1.RestoreHookPolicy) *v1alpha1.RestoreHookRun {
				r := runOf(p)
				r.OwnerReferences = nil
				return r
			},
		},
		"hooks differ from the template": {
			stored: newPolicy, user: operator, handled: true, wantErr: "differ from the policy's template",
			run: func(p *v1alpha1.RestoreHookPolicy) *v1alpha1.RestoreHookRun {
				r := runOf(p)
				r.Spec.Hooks.Resources[0].IncludedNamespaces = []string{"*"}
				return r
			},
		},
		"podAnnotations differ from the template": {
			stored: newPolicy, user: operator, handled: true, wantErr: "differ from the policy's template",
			run: func(p *v1alpha1.RestoreHookPolicy) *v1alpha1.RestoreHookRun {
				r := runOf(p)
				r.Spec.PodAnnotations = ""
				return r
			},
		},
		"the policy records no author": {
			stored: func() *v1alpha1.RestoreHookPolicy {
				p := newPolicy()
				p.Annotations = nil
				return p
			},
			run:  func(*v1alpha1.RestoreHookPolicy) *v1alpha1.RestoreHookRun { return runOf(newPolicy()) },
			user: operator, handled: true, wantErr: "records no author",
		},
		"the run names another author": {
			stored: newPolicy, user: operator, handled: true, wantErr: `names author "mallory"`,
			run: func(p *v1alpha1.RestoreHookPolicy) *v1alpha1.RestoreHookRun {
				r := runOf(p)
				r.Annotations[v1alpha1.AuthoredByAnnotation] = "mallory"
				return r
			},
		},
		"the policy is gone": {
			user: operator, handled: true, wantErr: "does not exist",
			run: func(*v1alpha1.RestoreHookPolicy) *v1alpha1.RestoreHookRun { return runOf(newPolicy()) },
		},
		"the policy was replaced (another UID)": {
			stored: func() *v1alpha1.RestoreHookPolicy {
				p := newPolicy()
				p.UID = "other-uid"
				return p
			},
			run:  func(*v1alpha1.RestoreHookPolicy) *v1alpha1.RestoreHookRun { return runOf(newPolicy()) },
			user: operator, handled: true, wantErr: "owner reference names UID policy-uid",
		},
	}
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			b := fake.NewClientBuilder().WithScheme(scheme)
			p := newPolicy()
			if tc.stored != nil {
				p = tc.stored()
				b = b.WithObjects(p)
			}
			a := &PolicyAuthority{Reader: b.Build(), OperatorUser: operator}
			handled, err := a.authorizeRun(context.Background(), authenticationv1.UserInfo{Username: tc.user}, tc.run(p))
			if handled != tc.handled {
				t.Errorf("handled = %v, want %v", handled, tc.handled)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}
