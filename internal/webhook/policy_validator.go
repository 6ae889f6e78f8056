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

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/policy"
	"github.com/restorehooks/restore-hook-operator/internal/scope"
)

// +kubebuilder:webhook:path=/mutate-hooks-restorehooks-io-v1alpha1-restorehookpolicy,mutating=true,failurePolicy=fail,sideEffects=None,groups=hooks.restorehooks.io,resources=restorehookpolicies,verbs=create;update,versions=v1alpha1,name=mrestorehookpolicy.restorehooks.io,admissionReviewVersions=v1,timeoutSeconds=10,reinvocationPolicy=Never
// +kubebuilder:webhook:path=/validate-hooks-restorehooks-io-v1alpha1-restorehookpolicy,mutating=false,failurePolicy=fail,sideEffects=None,groups=hooks.restorehooks.io,resources=restorehookpolicies,verbs=create;update,versions=v1alpha1,name=vrestorehookpolicy.restorehooks.io,admissionReviewVersions=v1,timeoutSeconds=10

// PolicyAuthor records who authored a RestoreHookPolicy in its hooks.restorehooks.io/authored-by
// annotation, from the admission request's user: on create, on every update that changes the spec, and
// on an update of a policy that has no author yet. Other updates (labels, finalizers, someone else's
// metadata edit) keep the recorded author, whatever value the request carries. A validating webhook
// cannot write, and the status is not the author's to set, so the record is made here, by a mutating
// webhook that the validator then checks against the same request.
type PolicyAuthor struct {
	Decoder admission.Decoder
}

var _ admission.Defaulter[*v1alpha1.RestoreHookPolicy] = &PolicyAuthor{}

// Default sets the authored-by annotation.
func (a *PolicyAuthor) Default(ctx context.Context, p *v1alpha1.RestoreHookPolicy) error {
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return apierrors.NewInternalError(fmt.Errorf("reading the admission request: %w", err))
	}
	author := req.UserInfo.Username
	if req.Operation == admissionv1.Update {
		old := &v1alpha1.RestoreHookPolicy{}
		if err := a.Decoder.DecodeRaw(req.OldObject, old); err != nil {
			return apierrors.NewBadRequest(fmt.Sprintf("decoding the policy before the update: %v", err))
		}
		if prev := old.Annotations[v1alpha1.AuthoredByAnnotation]; prev != "" && equality.Semantic.DeepEqual(old.Spec, p.Spec) {
			author = prev
		}
	}
	if p.Annotations == nil {
		p.Annotations = map[string]string{}
	}
	p.Annotations[v1alpha1.AuthoredByAnnotation] = author
	return nil
}

// PolicyValidator admits RestoreHookPolicies: the selector compiles, the template passes the checks a
// run's spec passes (hook.ValidateSpec, the namespace scope of SPEC §7) and, as for a run, the author
// may create pods/exec in every namespace the template can reach (SubjectAccessReview). The runs the
// policy creates act on that authority (see PolicyAuthority).
type PolicyValidator struct {
	// Client creates SubjectAccessReviews.
	Client client.Client
	Scope  scope.Scope
}

var _ admission.Validator[*v1alpha1.RestoreHookPolicy] = &PolicyValidator{}

// SetupWithManager registers the author-recording and validating webhooks on the manager's server.
func (v *PolicyValidator) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewWebhookManagedBy(mgr, &v1alpha1.RestoreHookPolicy{}).
		WithDefaulter(&PolicyAuthor{Decoder: admission.NewDecoder(mgr.GetScheme())}).
		WithValidator(v).Complete()
}

// ValidateCreate checks a new policy.
func (v *PolicyValidator) ValidateCreate(ctx context.Context, p *v1alpha1.RestoreHookPolicy) (admission.Warnings, error) {
	return nil, v.validate(ctx, p)
}

// ValidateUpdate checks a policy whose spec or recorded author changed; other updates pass.
func (v *PolicyValidator) ValidateUpdate(ctx context.Context, old, p *v1alpha1.RestoreHookPolicy) (admission.Warnings, error) {
	if equality.Semantic.DeepEqual(old.Spec, p.Spec) &&
		old.Annotations[v1alpha1.AuthoredByAnnotation] == p.Annotations[v1alpha1.AuthoredByAnnotation] {
		return nil, nil
	}
	return nil, v.validate(ctx, p)
}

// ValidateDelete admits every delete.
func (v *PolicyValidator) ValidateDelete(context.Context, *v1alpha1.RestoreHookPolicy) (admission.Warnings, error) {
	return nil, nil
}

func (v *PolicyValidator) validate(ctx context.Context, p *v1alpha1.RestoreHookPolicy) error {
	_, errs := policy.CompileSelector(&p.Spec.RestoreSelector, field.NewPath("spec", "restoreSelector"))
	errs = append(errs, policy.ValidateTemplate(p, v.Scope)...)
	if len(errs) > 0 {
		return apierrors.NewInvalid(v1alpha1.GroupVersion.WithKind("RestoreHookPolicy").GroupKind(), p.Name, errs)
	}
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return apierrors.NewInternalError(fmt.Errorf("reading the admission request: %w", err))
	}
	forbidden := func(msg string) error {
		return apierrors.NewForbidden(v1alpha1.GroupVersion.WithResource("restorehookpolicies").GroupResource(), p.Name, fmt.Errorf("%s", msg))
	}
	if got := p.Annotations[v1alpha1.AuthoredByAnnotation]; got != req.UserInfo.Username {
		// The mutating webhook records the requester; anything else means it was bypassed.
		return forbidden(fmt.Sprintf("annotation %s is %q, but the policy is being written by %q: the operator's mutating "+
			"webhook records the author, and a policy's runs act on that author's authority",
			v1alpha1.AuthoredByAnnotation, got, req.UserInfo.Username))
	}
	runs := &RunValidator{Client: v.Client, Scope: v.Scope}
	namespaces, clusterWide := runs.reach(policy.TemplateRun(p))
	if clusterWide {
		namespaces = []string{""}
	}
	ns, reason, denied, err := runs.firstDenied(ctx, req.UserInfo, namespaces, "exec")
	if err != nil {
		return err
	}
	if denied {
		return forbidden(withReason(fmt.Sprintf("user %q may not create pods/exec %s; the runs of a RestoreHookPolicy run commands in pods on its author's authority, so its author needs that permission wherever its template reaches",
			req.UserInfo.Username, where(ns, "the template's hooks can reach every namespace: its includedNamespaces are empty, a wildcard or a glob, or it honours pod annotations")), reason))
	}
	// Init hooks in the template inject containers into restored pods: the same create-pods and Pod
	// Security checks as for a run (issue 19 #5).
	if err := runs.authorizeInit(ctx, req.UserInfo, policy.TemplateRun(p)); err != nil {
		return err
	}
	if errs, err := runs.checkPodSecurity(ctx, policy.TemplateRun(p)); err != nil {
		return apierrors.NewInternalError(fmt.Errorf("checking Pod Security of the template's init hooks: %w", err))
	} else if len(errs) > 0 {
		return apierrors.NewInvalid(v1alpha1.GroupVersion.WithKind("RestoreHookPolicy").GroupKind(), p.Name, errs)
	}
	return nil
}
