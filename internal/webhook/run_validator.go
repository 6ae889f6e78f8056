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

// Package webhook holds the admission webhooks: the RestoreHookRun validator (what the CRD's CEL rules
// cannot check, and the security model of SPEC §7) and the pod mutator that injects init-container hooks
// (SPEC §6).
package webhook

import (
	"context"
	"fmt"
	"slices"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/hook"
	"github.com/restorehooks/restore-hook-operator/internal/scope"
)

// +kubebuilder:webhook:path=/validate-hooks-restorehooks-io-v1alpha1-restorehookrun,mutating=false,failurePolicy=fail,sideEffects=None,groups=hooks.restorehooks.io,resources=restorehookruns,verbs=create;update,versions=v1alpha1,name=vrestorehookrun.restorehooks.io,admissionReviewVersions=v1,timeoutSeconds=10
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

// RunValidator admits RestoreHookRuns: spec rules the CRD cannot express, namespace confinement, and the
// author check — the requesting user must be allowed to create pods/exec wherever the run can reach, so
// a RestoreHookRun never lets anyone run commands where they could not exec themselves.
type RunValidator struct {
	// Client creates SubjectAccessReviews.
	Client client.Client
	Scope  scope.Scope
	// Policies admits the runs the operator creates for a RestoreHookPolicy on the policy's recorded
	// authority; nil checks every run as its requester.
	Policies *PolicyAuthority
}

var _ admission.Validator[*v1alpha1.RestoreHookRun] = &RunValidator{}

// SetupWithManager registers the validator on the manager's webhook server.
func (v *RunValidator) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewWebhookManagedBy(mgr, &v1alpha1.RestoreHookRun{}).WithValidator(v).Complete()
}

// ValidateCreate checks a new run.
func (v *RunValidator) ValidateCreate(ctx context.Context, run *v1alpha1.RestoreHookRun) (admission.Warnings, error) {
	return nil, v.validate(ctx, run)
}

// ValidateUpdate checks a changed spec (status and metadata changes pass).
func (v *RunValidator) ValidateUpdate(ctx context.Context, oldRun, run *v1alpha1.RestoreHookRun) (admission.Warnings, error) {
	if equality.Semantic.DeepEqual(oldRun.Spec, run.Spec) {
		return nil, nil
	}
	return nil, v.validate(ctx, run)
}

// ValidateDelete admits every delete.
func (v *RunValidator) ValidateDelete(context.Context, *v1alpha1.RestoreHookRun) (admission.Warnings, error) {
	return nil, nil
}

func (v *RunValidator) validate(ctx context.Context, run *v1alpha1.RestoreHookRun) error {
	errs := hook.ValidateSpec(&run.Spec, field.NewPath("spec"))
	if bad := v.Scope.OutOfScope(run.Namespace, run.Spec.Hooks); len(bad) > 0 {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "hooks", "resources").Child("includedNamespaces"),
			fmt.Sprintf("a RestoreHookRun in namespace %q may only act on pods in its own namespace; it names %s "+
				"(only runs in the admin namespaces %s may reach other namespaces)",
				run.Namespace, quoteAll(bad), quoteAll(sets.List(v.Scope.AdminNamespaces)))))
	}
	if len(errs) > 0 {
		return apierrors.NewInvalid(v1alpha1.GroupVersion.WithKind("RestoreHookRun").GroupKind(), run.Name, errs)
	}
	return v.authorize(ctx, run)
}

// reach returns the namespaces the author must be allowed to exec in; clusterWide when the run can
// reach every namespace (an admin run with wildcard or glob selectors, or honoured pod annotations).
func (v *RunValidator) reach(run *v1alpha1.RestoreHookRun) (namespaces []string, clusterWide bool) {
	if !v.Scope.IsAdmin(run.Namespace) {
		return []string{run.Namespace}, false
	}
	patterns, all := hook.ReachableNamespaces(&run.Spec)
	if all {
		return nil, true
	}
	for _, p := range patterns {
		if strings.ContainsAny(p, "*?[]{}!\\") {
			return nil, true
		}
		namespaces = append(namespaces, p)
	}
	slices.Sort(namespaces)
	return slices.Compact(namespaces), false
}

// authorize asks the API server whether the requesting user may create pods/exec wherever the run reaches.
func (v *RunValidator) authorize(ctx context.Context, run *v1alpha1.RestoreHookRun) error {
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return apierrors.NewInternalError(fmt.Errorf("reading the admission request: %w", err))
	}
	if handled, err := v.Policies.authorizeRun(ctx, req.UserInfo, run); handled {
		return err
	}
	namespaces, clusterWide := v.reach(run)
	if clusterWide {
		namespaces = []string{""}
	}
	for _, ns := range namespaces {
		allowed, reason, err := v.mayExec(ctx, req.UserInfo, ns)
		if err != nil {
			return apierrors.NewInternalError(fmt.Errorf("checking pods/exec permission: %w", err))
		}
		if allowed {
			continue
		}
		where := fmt.Sprintf("in namespace %q", ns)
		if ns == "" {
			where = "cluster-wide (the run's hooks can reach every namespace: its includedNamespaces are empty, a wildcard or a glob, or it honours pod annotations)"
		}
		msg := fmt.Sprintf("user %q may not create pods/exec %s; a RestoreHookRun runs commands in pods as the operator, so its author needs that permission wherever the run reaches", req.UserInfo.Username, where)
		if reason != "" {
			msg += " (" + reason + ")"
		}
		return apierrors.NewForbidden(v1alpha1.GroupVersion.WithResource("restorehookruns").GroupResource(), run.Name, fmt.Errorf("%s", msg))
	}
	return nil
}

func (v *RunValidator) mayExec(ctx context.Context, user authenticationv1.UserInfo, namespace string) (bool, string, error) {
	extra := make(map[string]authorizationv1.ExtraValue, len(user.Extra))
	for k, val := range user.Extra {
		extra[k] = authorizationv1.ExtraValue(val)
	}
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: user.Username, Groups: user.Groups, UID: user.UID, Extra: extra,
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: namespace, Verb: "create", Resource: "pods", Subresource: "exec",
		},
	}}
	if err := v.Client.Create(ctx, sar); err != nil {
		return false, "", err
	}
	return sar.Status.Allowed, sar.Status.Reason, nil
}

func quoteAll(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}
