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

// Package scope holds the rule of SPEC §7 that says which namespaces a RestoreHookRun (or a policy's
// template) may reach. It is pure: the admission webhooks and the reconcilers both decide with it.
package scope

import (
	"slices"

	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
)

// Scope says which namespaces a run may act in (SPEC §7).
type Scope struct {
	// AdminNamespaces hold runs that may reach pods in any namespace.
	AdminNamespaces sets.Set[string]
}

// New returns the scope for the operator's admin namespaces.
func New(adminNamespaces ...string) Scope {
	return Scope{AdminNamespaces: sets.New(adminNamespaces...)}
}

// MayTouch reports whether a run living in runNamespace may act on pods in namespace.
func (s Scope) MayTouch(runNamespace, namespace string) bool {
	return namespace == runNamespace || s.AdminNamespaces.Has(runNamespace)
}

// IsAdmin reports whether runs in the namespace may reach every namespace.
func (s Scope) IsAdmin(runNamespace string) bool { return s.AdminNamespaces.Has(runNamespace) }

// OutOfScope returns the includedNamespaces patterns of hooks declared in namespace that name namespaces
// they may not touch: outside the admin namespaces, anything but that namespace ("*" and an empty list
// mean "every namespace the run may touch", so they are fine). Patterns come back once each, in
// declaration order.
func (s Scope) OutOfScope(namespace string, hooks v1alpha1.RestoreHooks) []string {
	if s.IsAdmin(namespace) {
		return nil
	}
	var bad []string
	for _, rs := range hooks.Resources {
		for _, p := range rs.IncludedNamespaces {
			if p != "*" && p != namespace && !slices.Contains(bad, p) {
				bad = append(bad, p)
			}
		}
	}
	return bad
}
