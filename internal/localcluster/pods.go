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

package localcluster

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// CreateManagedPod binds pod to the managed node (spec.nodeName) and creates it; kwok then marks it
// Running with every container Running and Ready. Containers without an image get "busybox" (nothing
// pulls it). pod is updated with the created object.
func (k *Kwok) CreateManagedPod(ctx context.Context, pod *corev1.Pod) error {
	return k.createPod(ctx, pod, k.ManagedNode)
}

// RunManagedPod creates pod on the managed node and waits until kwok reports it Running with every
// container Running; pod is updated with that state.
func (k *Kwok) RunManagedPod(ctx context.Context, pod *corev1.Pod, timeout time.Duration) error {
	if err := k.CreateManagedPod(ctx, pod); err != nil {
		return err
	}
	return k.WaitPodRunning(ctx, pod, timeout)
}

// WaitPodRunning waits until the pod is in phase Running with every container Running (kwok's
// pod-ready stage), and updates pod with that state.
func (k *Kwok) WaitPodRunning(ctx context.Context, pod *corev1.Pod, timeout time.Duration) error {
	var last string
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		if err := k.Client.Get(ctx, client.ObjectKeyFromObject(pod), pod); err != nil {
			last = err.Error()
			return false, nil
		}
		last = "phase " + string(pod.Status.Phase)
		if pod.Status.Phase != corev1.PodRunning || len(pod.Status.ContainerStatuses) < len(pod.Spec.Containers) {
			return false, nil
		}
		for _, cs := range pod.Status.ContainerStatuses {
			if cs.State.Running == nil {
				last = "container " + cs.Name + " not running"
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("pod %s/%s not Running on %s after %s (%s): %w", pod.Namespace, pod.Name, pod.Spec.NodeName, timeout, last, err)
	}
	return nil
}

// CreateUnmanagedPod binds pod to the unmanaged node and creates it, then writes the status a kubelet
// writes while it starts the pod: phase Pending, every container Waiting (ContainerCreating). Nothing
// changes it afterwards but the caller (SetContainersRunning, SetContainersWaiting, UpdatePodStatus);
// pods/exec into it still runs locally through kwok. pod is updated with the result.
func (k *Kwok) CreateUnmanagedPod(ctx context.Context, pod *corev1.Pod) error {
	if err := k.createPod(ctx, pod, k.UnmanagedNode); err != nil {
		return err
	}
	return k.UpdatePodStatus(ctx, pod, func(st *corev1.PodStatus) {
		st.Phase = corev1.PodPending
		st.HostIP = "127.0.0.1"
		st.StartTime = ptrNow()
		st.ContainerStatuses = nil
		for _, c := range pod.Spec.Containers {
			st.ContainerStatuses = append(st.ContainerStatuses, waitingStatus(c, "ContainerCreating"))
		}
	})
}

// SetContainersRunning marks the named containers of a pod on the unmanaged node Running (and Ready
// when ready), as a kubelet would once they started; the pod's phase becomes Running. Other containers
// keep their state. pod is updated with the result.
func (k *Kwok) SetContainersRunning(ctx context.Context, pod *corev1.Pod, ready bool, containers ...string) error {
	return k.UpdatePodStatus(ctx, pod, func(st *corev1.PodStatus) {
		st.Phase = corev1.PodRunning
		for _, name := range containers {
			c := containerSpec(pod, name)
			cs := corev1.ContainerStatus{Name: name, Image: c.Image, ImageID: c.Image, Ready: ready, Started: ptrTo(true),
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}}
			setContainerStatus(st, cs)
		}
	})
}

// SetContainersWaiting marks the named containers Waiting with reason (e.g. "ContainerCreating",
// "CrashLoopBackOff"); the pod's phase is left as it is.
func (k *Kwok) SetContainersWaiting(ctx context.Context, pod *corev1.Pod, reason string, containers ...string) error {
	return k.UpdatePodStatus(ctx, pod, func(st *corev1.PodStatus) {
		for _, name := range containers {
			setContainerStatus(st, waitingStatus(containerSpec(pod, name), reason))
		}
	})
}

// UpdatePodStatus re-reads pod, applies mutate to its status and writes it (retrying on conflicts).
// For pods on the unmanaged node; kwok would overwrite what is written on the managed one.
func (k *Kwok) UpdatePodStatus(ctx context.Context, pod *corev1.Pod, mutate func(*corev1.PodStatus)) error {
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := k.Client.Get(ctx, client.ObjectKeyFromObject(pod), pod); err != nil {
			return err
		}
		mutate(&pod.Status)
		return k.Client.Status().Update(ctx, pod)
	})
	if err != nil {
		return fmt.Errorf("updating the status of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

func (k *Kwok) createPod(ctx context.Context, pod *corev1.Pod, node string) error {
	pod.Spec.NodeName = node
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Image == "" {
			pod.Spec.Containers[i].Image = "busybox"
		}
	}
	if err := k.Client.Create(ctx, pod); err != nil {
		return fmt.Errorf("creating pod %s/%s on node %s: %w", pod.Namespace, pod.Name, node, err)
	}
	return nil
}

func containerSpec(pod *corev1.Pod, name string) corev1.Container {
	for _, c := range pod.Spec.Containers {
		if c.Name == name {
			return c
		}
	}
	for _, c := range pod.Spec.InitContainers {
		if c.Name == name {
			return c
		}
	}
	return corev1.Container{Name: name, Image: "busybox"}
}

func waitingStatus(c corev1.Container, reason string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: c.Name, Image: c.Image, Started: ptrTo(false),
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}}
}

func setContainerStatus(st *corev1.PodStatus, cs corev1.ContainerStatus) {
	for i := range st.ContainerStatuses {
		if st.ContainerStatuses[i].Name == cs.Name {
			st.ContainerStatuses[i] = cs
			return
		}
	}
	st.ContainerStatuses = append(st.ContainerStatuses, cs)
}

func ptrTo[T any](v T) *T { return &v }

func ptrNow() *metav1.Time {
	now := metav1.Now()
	return &now
}
