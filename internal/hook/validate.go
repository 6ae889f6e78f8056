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
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/gobwas/glob"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
)

// podResourceNames are the includedResources/excludedResources entries that mean pods, the same set
// the CRD's CEL rules use, so both layers of admission agree.
var podResourceNames = []string{"*", "pods", "pod", "po"}

// ValidateSpec checks a RestoreHookRunSpec for what the CRD schema and its CEL rules cannot check
// (label selectors parse, namespace globs compile, init container names are unique across the whole
// run) and repeats the simple rules they do check, so the validating webhook gives the same answer on
// a cluster whose CRD is older or was installed without CEL. path is the spec's field path, usually
// field.NewPath("spec"); errors carry paths such as spec.hooks.resources[0].postHooks[1].exec.command.
func ValidateSpec(spec *v1alpha1.RestoreHookRunSpec, path *field.Path) field.ErrorList {
	if spec == nil {
		return field.ErrorList{field.Required(path, "a RestoreHookRun needs a spec")}
	}
	var errs field.ErrorList

	if spec.RestoreRef.Name == "" {
		errs = append(errs, field.Required(path.Child("restoreRef", "name"), "name the Velero Restore whose pods this run hooks"))
	}
	switch spec.PodAnnotations {
	case "", v1alpha1.PodAnnotationsHonor, v1alpha1.PodAnnotationsIgnore:
	default:
		errs = append(errs, field.NotSupported(path.Child("podAnnotations"), spec.PodAnnotations,
			[]string{string(v1alpha1.PodAnnotationsHonor), string(v1alpha1.PodAnnotationsIgnore)}))
	}
	errs = append(errs, nonNegative(path.Child("maxWait"), spec.MaxWait)...)
	if spec.MaxConcurrentPods < 0 {
		errs = append(errs, field.Invalid(path.Child("maxConcurrentPods"), spec.MaxConcurrentPods,
			"must be 0 (no limit) or more"))
	}

	// Init container names must be unique across the run: two hook specs can select the same pod, and a
	// pod with two init containers of one name is rejected by the API server (Velero lets that happen).
	firstInitName := map[string]*field.Path{}
	resourcesPath := path.Child("hooks", "resources")
	for i := range spec.Hooks.Resources {
		rs := &spec.Hooks.Resources[i]
		rsPath := resourcesPath.Index(i)
		errs = append(errs, validateResourceSpec(rs, rsPath)...)
		for j := range rs.PostHooks {
			ph := &rs.PostHooks[j]
			phPath := rsPath.Child("postHooks").Index(j)
			switch {
			case ph.Exec == nil && ph.Init == nil:
				errs = append(errs, field.Required(phPath, "each postHooks entry needs exactly one of exec or init"))
			case ph.Exec != nil && ph.Init != nil:
				errs = append(errs, field.Forbidden(phPath,
					"each postHooks entry needs exactly one of exec or init (Velero accepts both in one entry; write them as two entries)"))
			}
			if ph.Exec != nil {
				errs = append(errs, validateExecHook(ph.Exec, phPath.Child("exec"))...)
			}
			if ph.Init != nil {
				errs = append(errs, validateInitHook(ph.Init, phPath.Child("init"), firstInitName)...)
			}
		}
	}
	errs = append(errs, ValidateDependencies(spec.Hooks.Resources, resourcesPath)...)
	return errs
}

// ValidateDependencies checks the dependsOn graph of resource entries (SPEC §13): every name must be an
// entry of the same run, no entry may depend on itself, and there must be no cycle; a cycle is named in
// order (a → b → a). Entries that share a name are one node: depending on it waits for all of them.
func ValidateDependencies(resources []v1alpha1.RestoreResourceHookSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := map[string]bool{}
	for i := range resources {
		names[resources[i].Name] = true
	}
	edges := map[string][]string{}
	for i := range resources {
		rs := &resources[i]
		for k, dep := range rs.DependsOn {
			p := path.Index(i).Child("dependsOn").Index(k)
			switch {
			case dep == rs.Name:
				errs = append(errs, field.Invalid(p, dep, fmt.Sprintf("entry %q cannot depend on itself", rs.Name)))
			case !names[dep]:
				errs = append(errs, field.Invalid(p, dep, fmt.Sprintf(
					"no entry of spec.hooks.resources is named %q (dependsOn names entries of the same run)", dep)))
			case !slices.Contains(edges[rs.Name], dep):
				edges[rs.Name] = append(edges[rs.Name], dep)
			}
		}
	}
	if cycle := findCycle(resources, edges); cycle != nil {
		first := slices.IndexFunc(resources, func(rs v1alpha1.RestoreResourceHookSpec) bool { return rs.Name == cycle[0] })
		errs = append(errs, field.Invalid(path.Index(first).Child("dependsOn"), resources[first].DependsOn,
			"dependsOn has a cycle: "+strings.Join(cycle, " → ")))
	}
	return errs
}

// findCycle returns the first cycle found by a depth-first walk in declaration order, closed on its first
// name (a → b → a), or nil.
func findCycle(resources []v1alpha1.RestoreResourceHookSpec, edges map[string][]string) []string {
	const (
		unvisited = iota
		onPath
		done
	)
	state := map[string]int{}
	var path []string
	var walk func(n string) []string
	walk = func(n string) []string {
		state[n] = onPath
		path = append(path, n)
		for _, m := range edges[n] {
			switch state[m] {
			case onPath:
				start := slices.Index(path, m)
				return append(slices.Clone(path[start:]), m)
			case unvisited:
				if c := walk(m); c != nil {
					return c
				}
			}
		}
		path = path[:len(path)-1]
		state[n] = done
		return nil
	}
	for i := range resources {
		if n := resources[i].Name; state[n] == unvisited {
			if c := walk(n); c != nil {
				return c
			}
		}
	}
	return nil
}

func validateResourceSpec(rs *v1alpha1.RestoreResourceHookSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if rs.Name == "" {
		errs = append(errs, field.Required(path.Child("name"), "each hook spec needs a name, used in status records, events and metrics"))
	}
	errs = append(errs, validateGlobs(rs.IncludedNamespaces, path.Child("includedNamespaces"))...)
	errs = append(errs, validateGlobs(rs.ExcludedNamespaces, path.Child("excludedNamespaces"))...)

	if len(rs.IncludedResources) > 0 && !slices.ContainsFunc(rs.IncludedResources, isPodResource) {
		errs = append(errs, field.Invalid(path.Child("includedResources"), strings.Join(rs.IncludedResources, ","),
			"does not include pods: restore hooks only ever apply to pods, so this hook spec would never run (list pods, or leave includedResources empty)"))
	}
	for k, r := range rs.ExcludedResources {
		if isPodResource(r) {
			errs = append(errs, field.Invalid(path.Child("excludedResources").Index(k), r,
				"excludes pods: restore hooks only ever apply to pods, so this hook spec would never run (remove it from excludedResources)"))
		}
	}

	if rs.LabelSelector != nil {
		if _, err := metav1.LabelSelectorAsSelector(rs.LabelSelector); err != nil {
			// FormatLabelSelector cannot render a selector that does not parse; its JSON form can.
			shown, _ := json.Marshal(rs.LabelSelector)
			errs = append(errs, field.Invalid(path.Child("labelSelector"), string(shown), err.Error()))
		}
	}
	return errs
}

func isPodResource(r string) bool { return slices.Contains(podResourceNames, r) }

func validateGlobs(patterns []string, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for k, p := range patterns {
		if _, err := glob.Compile(p); err != nil {
			errs = append(errs, field.Invalid(path.Index(k), p, "not a valid glob pattern: "+err.Error()))
		}
	}
	return errs
}

func validateExecHook(e *v1alpha1.ExecRestoreHook, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(e.Command) == 0 {
		errs = append(errs, field.Required(path.Child("command"),
			"needs at least one element, the program to run (use [\"/bin/sh\", \"-c\", \"...\"] for shell syntax)"))
	}
	switch e.OnError {
	case "", v1alpha1.HookErrorModeContinue, v1alpha1.HookErrorModeFail:
	default:
		errs = append(errs, field.NotSupported(path.Child("onError"), e.OnError,
			[]string{string(v1alpha1.HookErrorModeContinue), string(v1alpha1.HookErrorModeFail)}))
	}
	errs = append(errs, nonNegative(path.Child("execTimeout"), e.ExecTimeout)...)
	errs = append(errs, nonNegative(path.Child("waitTimeout"), e.WaitTimeout)...)
	errs = append(errs, nonNegative(path.Child("retryDelay"), e.RetryDelay)...)
	if e.Retries != nil && *e.Retries < 0 {
		errs = append(errs, field.Invalid(path.Child("retries"), *e.Retries, "must be 0 or more"))
	}
	return errs
}

func validateInitHook(h *v1alpha1.InitRestoreHook, path *field.Path, firstName map[string]*field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, nonNegative(path.Child("timeout"), h.Timeout)...)
	for k, c := range h.InitContainers {
		cPath := path.Child("initContainers").Index(k)
		namePath := cPath.Child("name")
		switch {
		case c.Name == "":
			errs = append(errs, field.Required(namePath, "every init container needs a name"))
		case len(validation.IsDNS1123Label(c.Name)) > 0:
			errs = append(errs, field.Invalid(namePath, c.Name, strings.Join(validation.IsDNS1123Label(c.Name), "; ")))
		case firstName[c.Name] != nil:
			dup := field.Duplicate(namePath, c.Name)
			dup.Detail = fmt.Sprintf("init container names must be unique within the run; %s has this name already", firstName[c.Name])
			errs = append(errs, dup)
		default:
			firstName[c.Name] = namePath
		}
		if c.Image == "" {
			errs = append(errs, field.Required(cPath.Child("image"), "every init container needs an image"))
		}
	}
	return errs
}

func nonNegative(path *field.Path, d *metav1.Duration) field.ErrorList {
	if d == nil || d.Duration >= 0 {
		return nil
	}
	return field.ErrorList{field.Invalid(path, d.Duration.String(), "must not be negative")}
}

// ReachableNamespaces says which namespaces a run can act on, for the admission check that its author
// may exec there (SPEC §7). patterns is the union, in order of first appearance, of the hook specs'
// includedNamespaces glob patterns. all is true when the run is not bounded by them: a hook spec with no
// includes or an include of "*", a run without hook specs, or a run that honours pod annotations, since
// an annotation hook runs in whatever pod of the restore carries it, wherever it is. Excludes are
// ignored: they can only narrow the set, and an over-approximation is the safe side of a security check.
func ReachableNamespaces(spec *v1alpha1.RestoreHookRunSpec) (patterns []string, all bool) {
	if spec == nil {
		return nil, true
	}
	all = annotationsHonored(spec) || len(spec.Hooks.Resources) == 0
	seen := map[string]bool{}
	for _, rs := range spec.Hooks.Resources {
		if len(rs.IncludedNamespaces) == 0 {
			all = true
		}
		for _, p := range rs.IncludedNamespaces {
			if p == "*" {
				all = true
			}
			if !seen[p] {
				seen[p] = true
				patterns = append(patterns, p)
			}
		}
	}
	return patterns, all
}
