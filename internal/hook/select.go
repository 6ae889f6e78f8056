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

package hook

import (
	"github.com/gobwas/glob"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
)

// NamespaceMatches reports whether a namespace is selected by glob include and exclude patterns, with
// Velero's semantics (pkg/util/collections IncludesExcludes.ShouldInclude): excludes are checked first
// and win; no includes, or an include of "*", selects every namespace; patterns are gobwas/glob globs,
// so "def*" matches "default".
//
// A pattern that does not compile matches nothing. Velero instead stops at the first uncompilable
// pattern of a list (in sorted order), which can hide a later pattern that matches; skipping only the bad
// pattern is the predictable choice, and ValidateSpec rejects such patterns at admission anyway.
func NamespaceMatches(namespace string, included, excluded []string) bool {
	if anyGlobMatches(excluded, namespace) {
		return false
	}
	if len(included) == 0 {
		return true
	}
	for _, p := range included {
		if p == "*" {
			return true
		}
	}
	return anyGlobMatches(included, namespace)
}

func anyGlobMatches(patterns []string, s string) bool {
	for _, p := range patterns {
		g, err := glob.Compile(p)
		if err != nil {
			continue
		}
		if g.Match(s) {
			return true
		}
	}
	return false
}

// SpecApplies reports whether a hook spec selects a pod: the pod's namespace (the target namespace, after
// Velero's namespaceMapping) passes includedNamespaces/excludedNamespaces, and its labels match
// labelSelector (nil selects every pod). A selector that does not parse selects nothing: guessing what a
// broken selector meant could run commands in pods nobody chose, and admission rejects it anyway.
// includedResources/excludedResources are not consulted: hooks only ever target pods, and admission
// rejects specs that would exclude them.
func SpecApplies(pod *corev1.Pod, rs v1alpha1.RestoreResourceHookSpec) bool {
	if pod == nil {
		return false
	}
	if !NamespaceMatches(pod.Namespace, rs.IncludedNamespaces, rs.ExcludedNamespaces) {
		return false
	}
	if rs.LabelSelector == nil {
		// LabelSelectorAsSelector(nil) selects nothing; an absent hook selector means every pod.
		return true
	}
	sel, err := metav1.LabelSelectorAsSelector(rs.LabelSelector)
	if err != nil {
		return false
	}
	return sel.Matches(labels.Set(pod.Labels))
}

// annotationsHonored reports whether the run lets pod annotations declare hooks; the empty policy is
// the API default, Honor.
func annotationsHonored(spec *v1alpha1.RestoreHookRunSpec) bool {
	return spec == nil || spec.PodAnnotations != v1alpha1.PodAnnotationsIgnore
}

// matchingResources lists, in resources[] order, the indexes of the hook specs that select the pod.
func matchingResources(pod *corev1.Pod, spec *v1alpha1.RestoreHookRunSpec) []int {
	if spec == nil {
		return nil
	}
	var idx []int
	for i, rs := range spec.Hooks.Resources {
		if SpecApplies(pod, rs) {
			idx = append(idx, i)
		}
	}
	return idx
}
