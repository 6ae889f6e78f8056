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
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
)

// PolicyAuthority lets the RestoreHookRun validator admit the runs a RestoreHookPolicy creates on the
// policy's authority instead of the requester's. The operator's own ServiceAccount creates those runs,
// and it may exec everywhere: checking its rights would check nothing (the confused deputy of SPEC §7).
// What stands instead is the policy's author, whose pods/exec permission the policy validator checked
// over everything the template reaches when the policy was written.
//
// A run is admitted on a policy's authority only when all of these hold; otherwise it is denied, or,
// when not created by the operator, checked as any run (so claiming a policy's ownership gains a user
// nothing):
//   - the requester is the operator (OperatorUser);
//   - the run's controller owner is a RestoreHookPolicy in the run's namespace, read live, with that UID;
//   - the policy records an author (hooks.restorehooks.io/authored-by), and the run carries the same;
//   - the run's hooks and podAnnotations, which decide where it can exec, are the template's.
type PolicyAuthority struct {
	// Reader reads policies from the API server (not a cache: the template must be the current one).
	Reader client.Reader
	// OperatorUser is the user name the operator's client authenticates as.
	OperatorUser string
}

// authorizeRun reports whether the run is the operator's run of a policy (handled), and if so whether the
// policy's authority covers it (err nil) or not (a Forbidden error saying why).
func (a *PolicyAuthority) authorizeRun(ctx context.Context, user authenticationv1.UserInfo, run *v1alpha1.RestoreHookRun) (handled bool, err error) {
	if a == nil || a.OperatorUser == "" || user.Username != a.OperatorUser {
		return false, nil
	}
	ref := metav1.GetControllerOfNoCopy(run)
	if ref == nil || ref.Kind != "RestoreHookPolicy" || ref.APIVersion != v1alpha1.GroupVersion.String() {
		return false, nil
	}
	deny := func(format string, args ...any) (bool, error) {
		return true, apierrors.NewForbidden(v1alpha1.GroupVersion.WithResource("restorehookruns").GroupResource(), run.Name,
			fmt.Errorf("run of RestoreHookPolicy %s/%s: "+format, append([]any{run.Namespace, ref.Name}, args...)...))
	}
	p := &v1alpha1.RestoreHookPolicy{}
	if err := a.Reader.Get(ctx, types.NamespacedName{Namespace: run.Namespace, Name: ref.Name}, p); err != nil {
		if apierrors.IsNotFound(err) {
			return deny("the policy does not exist")
		}
		return true, apierrors.NewInternalError(fmt.Errorf("reading the run's policy: %w", err))
	}
	if p.UID != ref.UID {
		return deny("the owner reference names UID %s, the policy is %s", ref.UID, p.UID)
	}
	author := p.Annotations[v1alpha1.AuthoredByAnnotation]
	if author == "" {
		return deny("the policy records no author (it was written while the operator's webhooks were not serving): " +
			"apply it again so its author's pods/exec permission is checked")
	}
	if got := run.Annotations[v1alpha1.AuthoredByAnnotation]; got != author {
		return deny("the run names author %q, the policy %q", got, author)
	}
	tmpl := &p.Spec.Template.Spec
	if !equality.Semantic.DeepEqual(run.Spec.Hooks, tmpl.Hooks) ||
		effectivePodAnnotations(run.Spec.PodAnnotations) != effectivePodAnnotations(tmpl.PodAnnotations) {
		return deny("its hooks or podAnnotations differ from the policy's template, which is what author %q was checked for", author)
	}
	return true, nil
}

func effectivePodAnnotations(p v1alpha1.PodAnnotationPolicy) v1alpha1.PodAnnotationPolicy {
	if p == "" {
		return v1alpha1.PodAnnotationsHonor
	}
	return p
}
