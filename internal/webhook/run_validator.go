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
	"maps"
	"slices"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
	psapi "k8s.io/pod-security-admission/api"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/hook"
	"github.com/restorehooks/restore-hook-operator/internal/scope"
)

// +kubebuilder:webhook:path=/validate-hooks-restorehooks-io-v1alpha1-restorehookrun,mutating=false,failurePolicy=fail,sideEffects=None,groups=hooks.restorehooks.io,resources=restorehookruns,verbs=create;update,versions=v1alpha1,name=vrestorehookrun.restorehooks.io,admissionReviewVersions=v1,timeoutSeconds=10
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch

// RunValidator admits RestoreHookRuns: spec rules the CRD cannot express, namespace confinement, and the
// author check — the requesting user must be allowed to create pods/exec wherever the run can reach, so
// a RestoreHookRun never lets anyone run commands where they could not exec themselves. A run with init
// hooks puts whole containers into restored pods, which Velero's ServiceAccount creates: its author must
// also be allowed to create pods wherever those hooks reach, and every init container must satisfy the
// Pod Security Standard each reachable namespace enforces.
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
	if len(errs) == 0 {
		podSecurityErrs, err := v.checkPodSecurity(ctx, run)
		if err != nil {
			return apierrors.NewInternalError(fmt.Errorf("checking init hooks against Pod Security Standards: %w", err))
		}
		errs = append(errs, podSecurityErrs...)
	}
	if len(errs) > 0 {
		return apierrors.NewInvalid(v1alpha1.GroupVersion.WithKind("RestoreHookRun").GroupKind(), run.Name, errs)
	}
	return v.authorize(ctx, run)
}

// initReach returns the namespaces a run's spec init hooks can inject containers into, or clusterWide
// when an admin-namespace run's entry with init hooks selects namespaces by wildcard, glob or not at all.
// Annotation init hooks are not counted: they come from the restored pod itself, not from the run's
// author. hasInit is false when the run declares no init hook.
func (v *RunValidator) initReach(run *v1alpha1.RestoreHookRun) (namespaces []string, clusterWide, hasInit bool) {
	for _, rs := range run.Spec.Hooks.Resources {
		if !slices.ContainsFunc(rs.PostHooks, func(h v1alpha1.RestoreResourceHook) bool { return h.Init != nil }) {
			continue
		}
		hasInit = true
		if !v.Scope.IsAdmin(run.Namespace) {
			continue
		}
		if len(rs.IncludedNamespaces) == 0 {
			clusterWide = true
		}
		for _, p := range rs.IncludedNamespaces {
			if isPattern(p) {
				clusterWide = true
				continue
			}
			namespaces = append(namespaces, p)
		}
	}
	if !hasInit {
		return nil, false, false
	}
	if !v.Scope.IsAdmin(run.Namespace) {
		return []string{run.Namespace}, false, true
	}
	if clusterWide {
		return nil, true, true
	}
	slices.Sort(namespaces)
	return slices.Compact(namespaces), false, true
}

func isPattern(p string) bool { return strings.ContainsAny(p, "*?[]{}!\\") }

// checkPodSecurity checks every spec init container against the Pod Security Standard enforced by each
// namespace its hook spec can reach: the namespaces it names (an absent one counts as unlabelled), and
// every existing namespace its patterns match. Namespaces created later are checked when a pod is
// injected into them. One error per offending field and level names the namespaces.
func (v *RunValidator) checkPodSecurity(ctx context.Context, run *v1alpha1.RestoreHookRun) (field.ErrorList, error) {
	var all []corev1.Namespace
	listed := false
	type finding struct {
		detail     string
		namespaces []string
	}
	findings := map[string]*finding{}
	var order []string
	for i, rs := range run.Spec.Hooks.Resources {
		if !slices.ContainsFunc(rs.PostHooks, func(h v1alpha1.RestoreResourceHook) bool { return h.Init != nil }) {
			continue
		}
		targets := map[string]map[string]string{} // namespace -> labels
		switch {
		case !v.Scope.IsAdmin(run.Namespace):
			labels, err := v.namespaceLabels(ctx, run.Namespace)
			if err != nil {
				return nil, err
			}
			targets[run.Namespace] = labels
		default:
			wide := len(rs.IncludedNamespaces) == 0
			for _, p := range rs.IncludedNamespaces {
				if isPattern(p) {
					wide = true
				} else if hook.NamespaceMatches(p, rs.IncludedNamespaces, rs.ExcludedNamespaces) {
					labels, err := v.namespaceLabels(ctx, p)
					if err != nil {
						return nil, err
					}
					targets[p] = labels
				}
			}
			if wide {
				if !listed {
					var list corev1.NamespaceList
					if err := v.Client.List(ctx, &list); err != nil {
						return nil, fmt.Errorf("listing namespaces: %w", err)
					}
					all, listed = list.Items, true
				}
				for _, ns := range all {
					if hook.NamespaceMatches(ns.Name, rs.IncludedNamespaces, rs.ExcludedNamespaces) {
						targets[ns.Name] = ns.Labels
					}
				}
			}
		}
		names := slices.Sorted(maps.Keys(targets))
		for j, ph := range rs.PostHooks {
			if ph.Init == nil {
				continue
			}
			for k := range ph.Init.InitContainers {
				path := field.NewPath("spec", "hooks", "resources").Index(i).Child("postHooks").Index(j).
					Child("init", "initContainers").Index(k)
				for _, ns := range names {
					lv := hook.EnforcedPodSecurity(targets[ns])
					for _, viol := range hook.CheckPodSecurity(lv, &ph.Init.InitContainers[k], path) {
						key := viol.Field + "\x00" + lv.String()
						f := findings[key]
						if f == nil {
							f = &finding{detail: fmt.Sprintf("violates PodSecurity %q: %s", lv.String(), viol.Detail)}
							findings[key] = f
							order = append(order, key)
						}
						f.namespaces = append(f.namespaces, ns)
					}
				}
			}
		}
	}
	var errs field.ErrorList
	for _, key := range order {
		f := findings[key]
		fieldPath, _, _ := strings.Cut(key, "\x00")
		errs = append(errs, &field.Error{Type: field.ErrorTypeForbidden, Field: fieldPath, Detail: fmt.Sprintf(
			"%s, enforced (label %s, baseline when unlabelled) by namespace %s the hook can inject into; "+
				"an init hook's container must satisfy it on its own", f.detail, psapi.EnforceLevelLabel, listSome(f.namespaces))})
	}
	return errs, nil
}

// namespaceLabels reads a namespace's labels; an absent namespace has none (it would be created
// unlabelled unless someone labels it, and injection checks again then).
func (v *RunValidator) namespaceLabels(ctx context.Context, name string) (map[string]string, error) {
	var ns corev1.Namespace
	if err := v.Client.Get(ctx, client.ObjectKey{Name: name}, &ns); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading namespace %s: %w", name, err)
	}
	return ns.Labels, nil
}

// listSome quotes up to five names, then says how many more.
func listSome(names []string) string {
	const most = 5
	if len(names) <= most {
		return quoteAll(names)
	}
	return fmt.Sprintf("%s and %d more", quoteAll(names[:most]), len(names)-most)
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
		if isPattern(p) {
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
	if err := v.authorizeInit(ctx, req.UserInfo, run); err != nil {
		return err
	}
	ns, reason, denied, err := v.firstDenied(ctx, req.UserInfo, namespaces, "exec")
	if err != nil || !denied {
		return err
	}
	msg := fmt.Sprintf("user %q may not create pods/exec %s; a RestoreHookRun runs commands in pods as the operator, so its author needs that permission wherever the run reaches",
		req.UserInfo.Username, where(ns, "the run's hooks can reach every namespace: its includedNamespaces are empty, a wildcard or a glob, or it honours pod annotations"))
	return apierrors.NewForbidden(v1alpha1.GroupVersion.WithResource("restorehookruns").GroupResource(), run.Name, fmt.Errorf("%s", withReason(msg, reason)))
}

// firstDenied asks a SubjectAccessReview, namespace by namespace ("" for cluster-wide), whether user may
// create pods (subresource "") or a pods subresource, and returns the first namespace where not, with the
// authorizer's reason.
func (v *RunValidator) firstDenied(ctx context.Context, user authenticationv1.UserInfo, namespaces []string, subresource string) (namespace, reason string, denied bool, err error) {
	what := "pods"
	if subresource != "" {
		what += "/" + subresource
	}
	for _, ns := range namespaces {
		allowed, reason, err := v.mayCreate(ctx, user, ns, subresource)
		if err != nil {
			return "", "", false, apierrors.NewInternalError(fmt.Errorf("checking %s create permission: %w", what, err))
		}
		if !allowed {
			return ns, reason, true, nil
		}
	}
	return "", "", false, nil
}

// where renders a namespace of a denial: "" is cluster-wide, for the reason given.
func where(namespace, clusterWideWhy string) string {
	if namespace == "" {
		return "cluster-wide (" + clusterWideWhy + ")"
	}
	return fmt.Sprintf("in namespace %q", namespace)
}

func withReason(msg, reason string) string {
	if reason != "" {
		return msg + " (" + reason + ")"
	}
	return msg
}

// authorizeInit asks whether the requesting user may create pods wherever the run's init hooks can
// inject a container: an init hook is a container in a pod that Velero's ServiceAccount creates, so
// without this check pods/exec alone would let its author run any container, privileged or not.
func (v *RunValidator) authorizeInit(ctx context.Context, user authenticationv1.UserInfo, run *v1alpha1.RestoreHookRun) error {
	namespaces, clusterWide, hasInit := v.initReach(run)
	if !hasInit {
		return nil
	}
	if clusterWide {
		namespaces = []string{""}
	}
	ns, reason, denied, err := v.firstDenied(ctx, user, namespaces, "")
	if err != nil || !denied {
		return err
	}
	msg := fmt.Sprintf("user %q may not create pods %s; a RestoreHookRun with init hooks injects containers into "+
		"restored pods, so its author needs that permission wherever those hooks reach", user.Username,
		where(ns, "an init hook's includedNamespaces are empty, a wildcard or a glob"))
	return apierrors.NewForbidden(v1alpha1.GroupVersion.WithResource("restorehookruns").GroupResource(), run.Name, fmt.Errorf("%s", withReason(msg, reason)))
}

// mayCreate asks a SubjectAccessReview whether user may create pods (subresource "") or a pods
// subresource (e.g. "exec") in namespace ("" for cluster-wide).
func (v *RunValidator) mayCreate(ctx context.Context, user authenticationv1.UserInfo, namespace, subresource string) (bool, string, error) {
	extra := make(map[string]authorizationv1.ExtraValue, len(user.Extra))
	for k, val := range user.Extra {
		extra[k] = authorizationv1.ExtraValue(val)
	}
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: user.Username, Groups: user.Groups, UID: user.UID, Extra: extra,
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: namespace, Verb: "create", Resource: "pods", Subresource: subresource,
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
