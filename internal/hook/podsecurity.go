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
	"fmt"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
)

// Init hooks put whole containers into restored pods, which Velero's ServiceAccount creates: without a
// check, whoever may write a RestoreHookRun could get a privileged container into any pod the run
// reaches. An injected container must therefore satisfy, on its own, the Pod Security Standard that its
// target namespace enforces. The checks are the upstream ones (k8s.io/pod-security-admission's policy
// package, the code the API server's PodSecurity admission runs), not rules of ours.

// DefaultPodSecurity is what an unlabelled namespace enforces here: baseline, the level that stops
// privilege escalation to the node and that most namespaces can meet. (The API server's own default is
// privileged unless configured otherwise; a hook container must not rely on that.)
var DefaultPodSecurity = psapi.LevelVersion{Level: psapi.LevelBaseline, Version: psapi.LatestVersion()}

// EnforcedPodSecurity is the level and version a namespace enforces, read from its labels
// pod-security.kubernetes.io/enforce and enforce-version; DefaultPodSecurity where they are absent.
// Labels that do not parse count as restricted:latest, as the API server treats them.
func EnforcedPodSecurity(namespaceLabels map[string]string) psapi.LevelVersion {
	p, _ := psapi.PolicyToEvaluate(namespaceLabels, psapi.Policy{Enforce: DefaultPodSecurity})
	return p.Enforce
}

// PodSecurityViolation is one way an init hook container breaks a Pod Security Standard.
type PodSecurityViolation struct {
	// Field is the offending field, under the path the caller gave the container (e.g.
	// spec.hooks.resources[0].postHooks[1].init.initContainers[0].securityContext.privileged).
	Field string
	// Detail is the upstream check's reason and detail, e.g. `privileged (container "x" must not set
	// securityContext.privileged=true)`.
	Detail string
}

// checkField is the container field each upstream check looks at, relative to the container. Checks of
// pod-level fields (host namespaces, volumes, sysctls) cannot fail for a container evaluated alone.
var checkField = map[policy.CheckID]string{
	"privileged":                "securityContext.privileged",
	"capabilities_baseline":     "securityContext.capabilities.add",
	"capabilities_restricted":   "securityContext.capabilities",
	"hostPorts":                 "ports",
	"procMount":                 "securityContext.procMount",
	"procMount_restricted":      "securityContext.procMount",
	"seLinuxOptions":            "securityContext.seLinuxOptions",
	"seccompProfile_baseline":   "securityContext.seccompProfile",
	"seccompProfile_restricted": "securityContext.seccompProfile",
	"windowsHostProcess":        "securityContext.windowsOptions.hostProcess",
	"allowPrivilegeEscalation":  "securityContext.allowPrivilegeEscalation",
	"runAsNonRoot":              "securityContext.runAsNonRoot",
	"runAsUser":                 "securityContext.runAsUser",
	"appArmorProfile":           "securityContext.appArmorProfile",
}

type evaluators struct {
	all policy.Evaluator
	// byCheck holds one evaluator per upstream check, to name the field a violation comes from: the
	// combined evaluator's results do not say which check produced them.
	byCheck []checkEvaluator
}

type checkEvaluator struct {
	id   policy.CheckID
	eval policy.Evaluator
}

var podSecurity = sync.OnceValues(func() (*evaluators, error) {
	checks := policy.DefaultChecks()
	all, err := policy.NewEvaluator(checks, nil)
	if err != nil {
		return nil, fmt.Errorf("building the Pod Security evaluator: %w", err)
	}
	e := &evaluators{all: all}
	for _, c := range checks {
		one, err := policy.NewEvaluator([]policy.Check{c}, nil)
		if err != nil {
			return nil, fmt.Errorf("building the Pod Security evaluator of check %s: %w", c.ID, err)
		}
		e.byCheck = append(e.byCheck, checkEvaluator{id: c.ID, eval: one})
	}
	return e, nil
})

// CheckPodSecurity evaluates container c, as the only container of a pod with no pod-level settings,
// against level lv, and returns its violations with their fields under path (nil when it satisfies the
// level). Evaluating it alone means it must carry its own securityContext where a level requires one
// (restricted's runAsNonRoot, seccompProfile, capabilities): a hook must not depend on what the pods it
// lands in happen to set.
func CheckPodSecurity(lv psapi.LevelVersion, c *corev1.Container, path *field.Path) []PodSecurityViolation {
	e, err := podSecurity()
	if err != nil {
		// The upstream checks are fixed at build time; if they cannot be built nothing can be admitted.
		return []PodSecurityViolation{{Field: path.String(), Detail: err.Error()}}
	}
	spec := &corev1.PodSpec{InitContainers: []corev1.Container{*c}}
	meta := &metav1.ObjectMeta{}
	var allowed = true
	var reasons []string
	for _, r := range e.all.EvaluatePod(lv, meta, spec) {
		if !r.Allowed {
			allowed = false
			reasons = append(reasons, describe(r))
		}
	}
	if allowed {
		return nil
	}
	var out []PodSecurityViolation
	for _, ce := range e.byCheck {
		for _, r := range ce.eval.EvaluatePod(lv, meta, spec) {
			if r.Allowed {
				continue
			}
			f := path.String()
			if suffix, ok := checkField[ce.id]; ok {
				f += "." + suffix
			}
			// A baseline check and the restricted check that overrides it can both fail on one field;
			// the first (restricted checks sort after baseline ones) is enough.
			if slices.ContainsFunc(out, func(v PodSecurityViolation) bool { return v.Field == f }) {
				continue
			}
			out = append(out, PodSecurityViolation{Field: f, Detail: describe(r)})
		}
	}
	if len(out) == 0 {
		out = []PodSecurityViolation{{Field: path.String(), Detail: strings.Join(reasons, "; ")}}
	}
	return out
}

func describe(r policy.CheckResult) string {
	if r.ForbiddenDetail == "" {
		return r.ForbiddenReason
	}
	return r.ForbiddenReason + " (" + r.ForbiddenDetail + ")"
}
