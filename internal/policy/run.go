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
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"strings"

	"github.com/vmware-tanzu/velero/pkg/label"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/hook"
	"github.com/restorehooks/restore-hook-operator/internal/scope"
)

// MaxRunName is the longest run name a policy makes: a label value's limit, so the name can also be used
// as one (and kubectl's columns stay readable).
const MaxRunName = 63

// hashLen is how many hex digits of a SHA-256 end a shortened or disambiguated name (40 bits).
const hashLen = 10

// RunName is the name of the run a policy gives a Restore: <restore>-<policy>, or, over MaxRunName
// characters, its first characters and a hash of the whole, so two long names stay apart and the same
// Restore and policy always give the same name.
func RunName(restore, policy string) string {
	base := restore + "-" + policy
	if len(base) <= MaxRunName {
		return base
	}
	return hashed(base, base)
}

// AlternateRunName is the name used when RunName is taken by a run that is not this policy's run for
// this Restore: a run left from an earlier Restore of the same name (deleted and created again), or a
// run someone made by hand. It depends on the Restore's UID, so it is as stable as RunName.
func AlternateRunName(restore, policy string, restoreUID types.UID) string {
	base := restore + "-" + policy
	return hashed(base, base+"/"+string(restoreUID))
}

func hashed(base, key string) string {
	sum := sha256.Sum256([]byte(key))
	prefix := base[:min(len(base), MaxRunName-hashLen-1)]
	// A name's dot-separated parts must end in an alphanumeric character.
	prefix = strings.TrimRight(prefix, "-.")
	return prefix + "-" + hex.EncodeToString(sum[:])[:hashLen]
}

// PolicyLabelValue is the value of the hooks.restorehooks.io/policy label for a policy name (hashed when
// over 63 characters, as Velero does for its restore-name label).
func PolicyLabelValue(policy string) string { return label.GetValidName(policy) }

// NewRun returns the run the policy creates for a pending run: in the policy's namespace, named as
// recorded, labelled with the policy and the Restore's UID, annotated with the policy's author, with
// the policy as controller owner, and the template's spec with restoreRef set to the Restore.
func NewRun(p *v1alpha1.RestoreHookPolicy, pending v1alpha1.PendingRun, veleroNamespace string) *v1alpha1.RestoreHookRun {
	tmpl := &p.Spec.Template
	lbls := maps.Clone(tmpl.Metadata.Labels)
	if lbls == nil {
		lbls = map[string]string{}
	}
	lbls[v1alpha1.PolicyLabel] = PolicyLabelValue(p.Name)
	lbls[v1alpha1.RestoreUIDLabel] = string(pending.RestoreUID)
	annotations := maps.Clone(tmpl.Metadata.Annotations)
	delete(annotations, v1alpha1.AuthoredByAnnotation)
	if author := p.Annotations[v1alpha1.AuthoredByAnnotation]; author != "" {
		if annotations == nil {
			annotations = map[string]string{}
		}
		annotations[v1alpha1.AuthoredByAnnotation] = author
	}
	return &v1alpha1.RestoreHookRun{
		ObjectMeta: metav1.ObjectMeta{
			Name: pending.Name, Namespace: p.Namespace, Labels: lbls, Annotations: annotations,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: v1alpha1.GroupVersion.String(), Kind: "RestoreHookPolicy", Name: p.Name, UID: p.UID,
				Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
			}},
		},
		Spec: tmpl.Spec.RunSpec(v1alpha1.RestoreReference{Name: pending.Restore, Namespace: veleroNamespace}),
	}
}

// OwnedBy reports whether the policy is the run's controller owner.
func OwnedBy(run *v1alpha1.RestoreHookRun, p *v1alpha1.RestoreHookPolicy) bool {
	ref := metav1.GetControllerOfNoCopy(run)
	return ref != nil && ref.UID == p.UID && ref.Kind == "RestoreHookPolicy"
}

// TemplateRun returns a run made of the policy's template for checking: in the policy's namespace, with
// a placeholder restoreRef. Its reach (the namespaces its hooks can act in) is the reach of every run the
// policy will create.
func TemplateRun(p *v1alpha1.RestoreHookPolicy) *v1alpha1.RestoreHookRun {
	return &v1alpha1.RestoreHookRun{
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace},
		Spec:       p.Spec.Template.Spec.RunSpec(v1alpha1.RestoreReference{Name: "any-matching-restore"}),
	}
}

// ValidateTemplate checks a policy's template as a run's spec is checked (hook.ValidateSpec and the
// namespace scope of SPEC §7), plus its metadata: label and annotation keys and values must be valid,
// and the operator's own keys may not be set there. Paths are under spec.template.
func ValidateTemplate(p *v1alpha1.RestoreHookPolicy, sc scope.Scope) field.ErrorList {
	path := field.NewPath("spec", "template")
	tmpl := &p.Spec.Template
	var errs field.ErrorList
	if tmpl.Spec.RestoreRef != nil {
		errs = append(errs, field.Forbidden(path.Child("spec", "restoreRef"),
			"the policy sets each run's restoreRef to the Restore it creates the run for"))
	}
	run := TemplateRun(p)
	errs = append(errs, hook.ValidateSpec(&run.Spec, path.Child("spec"))...)
	if bad := sc.OutOfScope(p.Namespace, tmpl.Spec.Hooks); len(bad) > 0 {
		errs = append(errs, field.Forbidden(path.Child("spec", "hooks", "resources").Child("includedNamespaces"),
			fmt.Sprintf("a RestoreHookPolicy in namespace %q may only act on pods in its own namespace; its template names %s "+
				"(only policies in the admin namespaces may reach other namespaces)", p.Namespace, quoteAll(bad))))
	}
	mdPath := path.Child("metadata")
	errs = append(errs, metav1validation.ValidateLabels(tmpl.Metadata.Labels, mdPath.Child("labels"))...)
	for _, k := range []string{v1alpha1.PolicyLabel, v1alpha1.RestoreUIDLabel} {
		if _, ok := tmpl.Metadata.Labels[k]; ok {
			errs = append(errs, field.Forbidden(mdPath.Child("labels").Key(k), "set by the operator on every run of the policy"))
		}
	}
	errs = append(errs, apivalidation.ValidateAnnotations(tmpl.Metadata.Annotations, mdPath.Child("annotations"))...)
	if _, ok := tmpl.Metadata.Annotations[v1alpha1.AuthoredByAnnotation]; ok {
		errs = append(errs, field.Forbidden(mdPath.Child("annotations").Key(v1alpha1.AuthoredByAnnotation),
			"the operator records the policy's author there; it cannot be declared"))
	}
	return errs
}

func quoteAll(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}
