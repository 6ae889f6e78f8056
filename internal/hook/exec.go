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
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
)

// Key identifies one hook on one pod; it maps 1:1 to a status record (v1alpha1.HookRecord fields type,
// source, hook, resourceIndex, index, container).
type Key struct {
	// Type is Exec or Init.
	Type v1alpha1.HookType
	// Source is Spec or Annotation.
	Source v1alpha1.HookSource
	// Hook is the hook spec's name, or v1alpha1.AnnotationHookName.
	Hook string
	// ResourceIndex is the hook spec's position in spec.hooks.resources (0 for annotation hooks).
	ResourceIndex int32
	// Index is the hook's position in its spec's postHooks (0 for annotation hooks).
	Index int32
	// Container is the exec target container, or the injected init container's name.
	Container string
}

// ExecHook is one exec hook resolved for one pod: every default applied, ready to wait for and run.
type ExecHook struct {
	Key
	// Command is the argv, passed verbatim.
	Command []string
	// OnError is never empty: Continue or Fail.
	OnError v1alpha1.HookErrorMode
	// ExecTimeout bounds the command (default 30s).
	ExecTimeout time.Duration
	// WaitTimeout bounds the wait for the container, counted from when the operator first saw the pod
	// (default: the run's maxWait).
	WaitTimeout time.Duration
	// WaitForReady is this hook's own flag; whether the container waits for Ready is decided per
	// container by ContainerWaitsForReady.
	WaitForReady bool
	// Retries is how many more attempts a failed command gets (default 0).
	Retries int32
	// RetryDelay is the pause before each retry (default 5s).
	RetryDelay time.Duration
	// Problem, when non-nil, means: do not run; record the hook Failed with this reason and message.
	Problem *Problem
}

// ResolveExecHooks lists the exec hooks that apply to a pod, in the order they run within a container.
//
// Precedence is Velero's exclusive or, decided independently of init hooks: when the run honours pod
// annotations (podAnnotations is not Ignore) and the pod has a non-empty post.hook.restore.velero.io/command,
// that single annotation hook is the pod's only exec hook. A pod the webhook took over carries those
// annotations in PostHookAnnotation instead; they are read from there the same way (ExecHookAnnotations). Otherwise every exec hook of every matching
// hook spec applies, in resources[] order then postHooks[] order. Other exec annotations without a command
// do not suppress the spec hooks.
//
// maxWait is the run's resolved maxWait (see ResolveMaxWait); it is the default waitTimeout. Hooks
// that cannot run (a malformed annotation, a container the pod does not have) are still returned, with
// a Problem, so the reconciler records them Failed instead of losing them as Velero does.
func ResolveExecHooks(pod *corev1.Pod, spec *v1alpha1.RestoreHookRunSpec, maxWait time.Duration) []ExecHook {
	if pod == nil {
		return nil
	}
	if annotationsHonored(spec) {
		effective, _, markProblem := ExecHookAnnotations(pod.Annotations)
		if markProblem != nil {
			// A taken-over hook whose record cannot be read still is the pod's one exec hook: fail it,
			// naming the annotation, rather than run spec hooks Velero's XOR excluded.
			return []ExecHook{annotationExecHook(pod, ExecAnnotation{OnError: v1alpha1.HookErrorModeContinue,
				ExecTimeout: DefaultExecTimeout, WaitTimeout: maxWait}, markProblem)}
		}
		if ann, declared, problem := ParseExecAnnotations(effective, maxWait); declared {
			return []ExecHook{annotationExecHook(pod, ann, problem)}
		}
	}

	var hooks []ExecHook
	for _, i := range matchingResources(pod, spec) {
		rs := spec.Hooks.Resources[i]
		for j, ph := range rs.PostHooks {
			if ph.Exec == nil {
				continue
			}
			hooks = append(hooks, specExecHook(pod, rs.Name, i, j, ph.Exec, maxWait))
		}
	}
	return hooks
}

func annotationExecHook(pod *corev1.Pod, ann ExecAnnotation, problem *Problem) ExecHook {
	h := ExecHook{
		Key: Key{
			Type:   v1alpha1.HookTypeExec,
			Source: v1alpha1.HookSourceAnnotation,
			Hook:   v1alpha1.AnnotationHookName,
		},
		Command:      ann.Command,
		OnError:      ann.OnError,
		ExecTimeout:  ann.ExecTimeout,
		WaitTimeout:  ann.WaitTimeout,
		WaitForReady: ann.WaitForReady,
		RetryDelay:   DefaultRetryDelay,
		Problem:      problem,
	}
	h.Container = ann.Container
	if h.Container == "" {
		h.Container = firstContainerName(pod)
	}
	// A malformed annotation is the first thing to fix, so it is what the record says.
	if h.Problem == nil {
		h.Problem = containerProblem(pod, h.Container, "annotation "+ExecContainerAnnotation)
	}
	return h
}

func specExecHook(pod *corev1.Pod, name string, i, j int, e *v1alpha1.ExecRestoreHook, maxWait time.Duration) ExecHook {
	h := ExecHook{
		Key: Key{
			Type:          v1alpha1.HookTypeExec,
			Source:        v1alpha1.HookSourceSpec,
			Hook:          name,
			ResourceIndex: int32(i),
			Index:         int32(j),
			Container:     e.Container,
		},
		// Cloned so a caller that edits a hook's argv cannot reach into the run's spec.
		Command:      slices.Clone(e.Command),
		OnError:      v1alpha1.HookErrorModeContinue,
		ExecTimeout:  DefaultExecTimeout,
		WaitTimeout:  maxWait,
		WaitForReady: e.WaitForReady != nil && *e.WaitForReady,
		RetryDelay:   DefaultRetryDelay,
	}
	// Admission only lets Continue, Fail or "" through; anything else is treated as the default rather
	// than as a stricter mode nobody asked for.
	if e.OnError == v1alpha1.HookErrorModeFail {
		h.OnError = v1alpha1.HookErrorModeFail
	}
	// Zero means "default" as in Velero; admission rejects negative values, which also default here.
	if e.ExecTimeout != nil && e.ExecTimeout.Duration > 0 {
		h.ExecTimeout = e.ExecTimeout.Duration
	}
	if e.WaitTimeout != nil && e.WaitTimeout.Duration > 0 {
		h.WaitTimeout = e.WaitTimeout.Duration
	}
	if e.RetryDelay != nil && e.RetryDelay.Duration > 0 {
		h.RetryDelay = e.RetryDelay.Duration
	}
	if e.Retries != nil && *e.Retries > 0 {
		h.Retries = *e.Retries
	}
	if h.Container == "" {
		h.Container = firstContainerName(pod)
	}
	h.Problem = containerProblem(pod, h.Container, fmt.Sprintf("hook spec %q (spec.hooks.resources[%d].postHooks[%d].exec.container)", name, i, j))
	return h
}

func firstContainerName(pod *corev1.Pod) string {
	if len(pod.Spec.Containers) == 0 {
		return ""
	}
	return pod.Spec.Containers[0].Name
}

// containerProblem checks that an exec hook's target container exists: an application container, or a
// native sidecar (an init container with restartPolicy Always), which keeps running beside the
// application and can be exec'd into. Velero silently drops hooks for unknown containers and then
// waits for them forever; here they fail at once with ContainerNotFound. origin names where the
// container came from (annotation key or spec field), for the message; a defaulted container is the
// pod's first one, which always exists unless the pod has none.
func containerProblem(pod *corev1.Pod, container, origin string) *Problem {
	if container == "" {
		return newProblem(v1alpha1.ReasonContainerNotFound,
			"pod %s/%s has no containers, and no container was named to run the hook in", pod.Namespace, pod.Name)
	}
	if hasExecTarget(pod, container) {
		return nil
	}
	return newProblem(v1alpha1.ReasonContainerNotFound, "%s: container %s is not in pod %s/%s (containers: %s)",
		origin, quoteValue(container), pod.Namespace, pod.Name, describeExecTargets(pod))
}

func hasExecTarget(pod *corev1.Pod, name string) bool {
	for _, c := range pod.Spec.Containers {
		if c.Name == name {
			return true
		}
	}
	for _, c := range pod.Spec.InitContainers {
		if c.Name == name && isNativeSidecar(c) {
			return true
		}
	}
	return false
}

func isNativeSidecar(c corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

func describeExecTargets(pod *corev1.Pod) string {
	var names []string
	for _, c := range pod.Spec.Containers {
		names = append(names, c.Name)
	}
	for _, c := range pod.Spec.InitContainers {
		if isNativeSidecar(c) {
			names = append(names, c.Name+" (native sidecar)")
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// ContainerWaitsForReady reports whether the hooks of a container wait for it to be Ready rather than
// Running: true as soon as any of that container's hooks sets WaitForReady. This is Velero's rule,
// per container and not per pod. Hooks with a Problem never run, so they do not make the others wait.
func ContainerWaitsForReady(hooks []ExecHook, container string) bool {
	for _, h := range hooks {
		if h.Container == container && h.Problem == nil && h.WaitForReady {
			return true
		}
	}
	return false
}

// GroupByContainer splits a pod's exec hooks by container. order lists each container once, in order
// of first appearance; byContainer keeps the hooks of a container in their declaration order, which is
// the order they run in.
func GroupByContainer(hooks []ExecHook) (order []string, byContainer map[string][]ExecHook) {
	byContainer = make(map[string][]ExecHook)
	for _, h := range hooks {
		if _, seen := byContainer[h.Container]; !seen {
			order = append(order, h.Container)
		}
		byContainer[h.Container] = append(byContainer[h.Container], h)
	}
	return order, byContainer
}

// ContainerUp reports whether a container is up for its exec hooks: Running, or Ready when waitForReady
// (per ContainerWaitsForReady). Application containers are looked up in status.containerStatuses, native
// sidecars in status.initContainerStatuses. No status yet, Waiting or Terminated all mean not up.
func ContainerUp(pod *corev1.Pod, container string, waitForReady bool) bool {
	if pod == nil {
		return false
	}
	for _, statuses := range [][]corev1.ContainerStatus{pod.Status.ContainerStatuses, pod.Status.InitContainerStatuses} {
		for _, cs := range statuses {
			if cs.Name != container {
				continue
			}
			if waitForReady {
				// Ready on a terminated container is stale; only a running container can take a command.
				return cs.Ready && cs.State.Running != nil
			}
			return cs.State.Running != nil
		}
	}
	return false
}
