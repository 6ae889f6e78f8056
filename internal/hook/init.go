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
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
)

// InitHook is one init container hook resolved for one pod. Key.Container is the init container's
// name (Key.Type is Init); the Container field is the container to inject.
type InitHook struct {
	Key
	// Container is the init container to inject: a deep copy, never shared with the spec or the pod.
	Container corev1.Container
	// Timeout bounds the container, counted from when the operator first saw the pod: the hook's
	// timeout, else the run's maxWait.
	Timeout time.Duration
	// Problem, when non-nil, means: never inject; record the hook Failed with this reason and message.
	Problem *Problem
}

// ResolveInitHooks lists the init container hooks that apply to a pod, in injection order.
//
// Precedence is Velero's exclusive or, decided independently of exec hooks: when the run honours pod
// annotations and the pod has a non-empty init.hook.restore.velero.io/container-image, that annotation
// container is the pod's only init hook. Otherwise every init container of every init hook of every
// matching hook spec applies, one InitHook per container, in resources[], postHooks[] and
// initContainers[] order.
//
// The annotation container gets name, image and command from the annotations and a copy of the volume
// mounts of the pod's first application container, so it can prepare the files the application reads
// (Velero copies none, which leaves an annotation init container unable to touch the restored data).
// A Bidirectional mount propagation is not copied: the API server allows it only for privileged
// containers and would reject the pod.
//
// A hook that must not be injected still comes back, with a Problem, so it gets a status record:
// malformed annotations (InvalidAnnotation), and containers without a name or an image, or named like
// one of the pod's application containers (NotInjected; the API server would reject the pod).
func ResolveInitHooks(pod *corev1.Pod, spec *v1alpha1.RestoreHookRunSpec, maxWait time.Duration) []InitHook {
	if pod == nil {
		return nil
	}
	if annotationsHonored(spec) {
		if ann, declared, problem := ParseInitAnnotations(pod.Annotations, maxWait); declared {
			return []InitHook{annotationInitHook(pod, ann, problem)}
		}
	}

	var hooks []InitHook
	for _, i := range matchingResources(pod, spec) {
		rs := spec.Hooks.Resources[i]
		for j, ph := range rs.PostHooks {
			if ph.Init == nil {
				continue
			}
			timeout := maxWait
			if ph.Init.Timeout != nil && ph.Init.Timeout.Duration > 0 {
				timeout = ph.Init.Timeout.Duration
			}
			for k := range ph.Init.InitContainers {
				c := ph.Init.InitContainers[k].DeepCopy()
				hooks = append(hooks, InitHook{
					Key: Key{
						Type:          v1alpha1.HookTypeInit,
						Source:        v1alpha1.HookSourceSpec,
						Hook:          rs.Name,
						ResourceIndex: int32(i),
						Index:         int32(j),
						Container:     c.Name,
					},
					Container: *c,
					Timeout:   timeout,
					Problem: specInitProblem(pod, *c,
						fmt.Sprintf("spec.hooks.resources[%d].postHooks[%d].init.initContainers[%d]", i, j, k)),
				})
			}
		}
	}
	return hooks
}

func annotationInitHook(pod *corev1.Pod, ann InitAnnotation, problem *Problem) InitHook {
	c := corev1.Container{
		Name:    ann.Name,
		Image:   ann.Image,
		Command: ann.Command,
	}
	if len(pod.Spec.Containers) > 0 {
		c.VolumeMounts = stickyVolumeMounts(pod.Spec.Containers[0].VolumeMounts)
	}
	if problem == nil && isAppContainer(pod, ann.Name) {
		problem = newProblem(v1alpha1.ReasonInvalidAnnotation,
			"annotation %s: value %s is already the name of an application container of pod %s/%s",
			InitContainerNameAnnotation, quoteValue(ann.Name), pod.Namespace, pod.Name)
	}
	return InitHook{
		Key: Key{
			Type:      v1alpha1.HookTypeInit,
			Source:    v1alpha1.HookSourceAnnotation,
			Hook:      v1alpha1.AnnotationHookName,
			Container: ann.Name,
		},
		Container: c,
		Timeout:   ann.Timeout,
		Problem:   problem,
	}
}

// stickyVolumeMounts copies an application container's volume mounts for the annotation init container.
func stickyVolumeMounts(mounts []corev1.VolumeMount) []corev1.VolumeMount {
	if len(mounts) == 0 {
		return nil
	}
	out := make([]corev1.VolumeMount, len(mounts))
	for i := range mounts {
		mounts[i].DeepCopyInto(&out[i])
		if out[i].MountPropagation != nil && *out[i].MountPropagation == corev1.MountPropagationBidirectional {
			out[i].MountPropagation = nil
		}
	}
	return out
}

// specInitProblem catches the spec init containers the API server would refuse, so the webhook never
// turns a restored pod into one that cannot be created. Admission of the run rejects the first two
// already; the name clash depends on the pod and can only be seen here.
func specInitProblem(pod *corev1.Pod, c corev1.Container, path string) *Problem {
	switch {
	case c.Name == "":
		return newProblem(v1alpha1.ReasonNotInjected, "%s.name: init container has no name", path)
	case c.Image == "":
		return newProblem(v1alpha1.ReasonNotInjected, "%s.image: init container %s has no image", path, quoteValue(c.Name))
	case isAppContainer(pod, c.Name):
		return newProblem(v1alpha1.ReasonNotInjected,
			"%s.name: %s is already the name of an application container of pod %s/%s",
			path, quoteValue(c.Name), pod.Namespace, pod.Name)
	}
	return nil
}

func isAppContainer(pod *corev1.Pod, name string) bool {
	for _, c := range pod.Spec.Containers {
		if c.Name == name {
			return true
		}
	}
	return false
}

// InjectInitContainers returns existing (a pod's init containers) with the hooks' containers injected,
// and the names of the containers it injected, in order.
//
// Hook containers go right after the container named restore-wait (Velero's file-system restore), wherever
// it stands, so they see the restored data; without one they go first. They keep their declaration order
// among themselves, and the existing containers keep theirs.
//
// Injection is idempotent, so a retried webhook call or a pod that carries containers from an earlier
// restore does not get duplicates: a hook container is skipped when an existing init container has the
// same name, or the same image, command and args (Velero may have injected it itself under another
// name). Args count as part of the command here, so two hooks that share an image and an entrypoint but
// run different scripts are both injected. A name already taken by an earlier hook container is skipped
// too (the first one wins; admission rejects such runs). Hooks with a Problem are never injected.
// Neither input is modified; the result shares no memory with them.
func InjectInitContainers(existing []corev1.Container, hooks []InitHook) (result []corev1.Container, injected []string) {
	names := make(map[string]bool, len(existing)+len(hooks))
	for _, c := range existing {
		names[c.Name] = true
	}
	var add []corev1.Container
	for _, h := range hooks {
		if h.Problem != nil || names[h.Container.Name] || slices.ContainsFunc(existing, func(c corev1.Container) bool {
			return sameProgram(c, h.Container)
		}) {
			continue
		}
		names[h.Container.Name] = true
		add = append(add, *h.Container.DeepCopy())
		injected = append(injected, h.Container.Name)
	}

	at := 0
	if i := slices.IndexFunc(existing, func(c corev1.Container) bool { return c.Name == RestoreWaitContainerName }); i >= 0 {
		at = i + 1
	}
	result = make([]corev1.Container, 0, len(existing)+len(add))
	for _, c := range existing[:at] {
		result = append(result, *c.DeepCopy())
	}
	result = append(result, add...)
	for _, c := range existing[at:] {
		result = append(result, *c.DeepCopy())
	}
	return result, injected
}

// sameProgram reports whether two containers run the same thing: same image, command and args. nil and
// empty lists are the same (both mean "the image's default").
func sameProgram(a, b corev1.Container) bool {
	return a.Image == b.Image && slices.Equal(a.Command, b.Command) && slices.Equal(a.Args, b.Args)
}

// InjectedContainer is where a pod carries an init hook, as FindInjected sees it.
type InjectedContainer struct {
	// Name is the init container that runs the hook; "" when the pod does not carry it.
	Name string
	// Clash, when the pod does not carry the hook, is the pod's own init container that took the hook's
	// name (so the webhook could not inject it); nil when there is none.
	Clash *corev1.Container
}

// FindInjected finds the init container of a pod that carries an init hook's container c.
//
// Only two kinds of container count: one of c's name that the pod webhook recorded as injected (the
// InjectedAnnotation), and one that runs the same program (image, command and args; Velero may have
// injected it under another name, or the pod came back from a backup with it). A container that merely
// has c's name is the pod's own: the webhook never injects over a name already taken, so reporting that
// container's exit code as the hook's outcome would record a hook that never ran as Succeeded. It comes
// back as Clash instead. An unreadable InjectedAnnotation counts as recording nothing.
func FindInjected(pod *corev1.Pod, c *corev1.Container) InjectedContainer {
	recorded, _ := DecodeInjected(pod.Annotations[InjectedAnnotation])
	for _, ic := range pod.Spec.InitContainers {
		if ic.Name == c.Name && slices.Contains(recorded, ic.Name) {
			return InjectedContainer{Name: ic.Name}
		}
	}
	for _, ic := range pod.Spec.InitContainers {
		if sameProgram(ic, *c) {
			return InjectedContainer{Name: ic.Name}
		}
	}
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == c.Name {
			return InjectedContainer{Clash: pod.Spec.InitContainers[i].DeepCopy()}
		}
	}
	return InjectedContainer{}
}
