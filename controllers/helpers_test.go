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

package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/exec"
	"github.com/restorehooks/restore-hook-operator/internal/hook"
	"github.com/restorehooks/restore-hook-operator/operator"
)

const veleroNS = "velero"

// runningOperator is a running manager with a fake exec client.
type runningOperator struct {
	fake   *exec.Fake
	cancel context.CancelFunc
	done   chan error
}

// startOperator runs the manager exactly as cmd/manager does, with fake as its exec client.
func startOperator(fake *exec.Fake) *runningOperator {
	octx, cancel := context.WithCancel(ctx)
	op := &runningOperator{fake: fake, cancel: cancel, done: make(chan error, 1)}
	go func() {
		defer GinkgoRecover()
		op.done <- operator.Run(octx, cfg, operator.Options{
			MetricsAddr: "0", ProbeAddr: "0", VeleroNamespace: veleroNS, MaxConcurrentExecs: 16,
			MaxConcurrentRuns: 2, StatusWriteInterval: 10 * time.Millisecond, Executor: fake,
			SkipNameValidation: true, DisableWebhooks: true, // this suite installs no webhook configurations
		})
	}()
	return op
}

func (o *runningOperator) stop() {
	o.cancel()
	Eventually(o.done, 30*time.Second).Should(Receive(BeNil()))
}

// callsIn returns the exec requests the fake received for pods of one namespace, as "pod/container:cmd".
func callsIn(f *exec.Fake, namespace string) []string {
	var out []string
	for _, c := range f.Calls() {
		if c.Namespace == namespace {
			out = append(out, fmt.Sprintf("%s/%s:%s", c.Pod, c.Container, strings.Join(c.Command, " ")))
		}
	}
	return out
}

// newRestore creates a Velero Restore in the Velero namespace with a unique name, InProgress as Velero
// has it while it creates pods.
func newRestore() *velerov1.Restore {
	r := &velerov1.Restore{ObjectMeta: metav1.ObjectMeta{Namespace: veleroNS, Name: "r-" + rand.String(6)},
		Spec: velerov1.RestoreSpec{BackupName: "b1"}}
	Expect(k8sClient.Create(ctx, r)).To(Succeed())
	setRestorePhase(r, velerov1.RestorePhaseInProgress)
	return r
}

func setRestorePhase(r *velerov1.Restore, phase velerov1.RestorePhase) {
	Eventually(func() error {
		if err := k8sClient.Get(ctx, clientKey(r), r); err != nil {
			return err
		}
		r.Status.Phase = phase
		// Velero's Restore CRD has no status subresource: Velero (and these tests) update the whole object.
		return k8sClient.Update(ctx, r)
	}).Should(Succeed())
}

// newPod creates a pod labelled as restored by restore, with the given containers and annotations.
func newPod(namespace, name string, restore *velerov1.Restore, containers []string, annotations map[string]string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Namespace: namespace, Name: name, Annotations: annotations,
		Labels: map[string]string{velerov1.RestoreNameLabel: restore.Name, "app": "db"},
	}}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c, Image: "busybox"})
	}
	Expect(k8sClient.Create(ctx, p)).To(Succeed())
	return p
}

// setRunning marks the named containers Running (and optionally Ready) in the pod's status, as a
// kubelet would; the others keep their state.
func setRunning(p *corev1.Pod, ready bool, containers ...string) {
	Eventually(func() error {
		if err := k8sClient.Get(ctx, clientKey(p), p); err != nil {
			return err
		}
		p.Status.Phase = corev1.PodRunning
		for _, c := range containers {
			cs := corev1.ContainerStatus{Name: c, Ready: ready, Image: "busybox", ImageID: "busybox",
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}}
			replaced := false
			for i := range p.Status.ContainerStatuses {
				if p.Status.ContainerStatuses[i].Name == c {
					p.Status.ContainerStatuses[i], replaced = cs, true
				}
			}
			if !replaced {
				p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, cs)
			}
		}
		return k8sClient.Status().Update(ctx, p)
	}).Should(Succeed())
}

func setPodPhase(p *corev1.Pod, phase corev1.PodPhase) {
	Eventually(func() error {
		if err := k8sClient.Get(ctx, clientKey(p), p); err != nil {
			return err
		}
		p.Status.Phase = phase
		return k8sClient.Status().Update(ctx, p)
	}).Should(Succeed())
}

// newRun creates a RestoreHookRun in namespace for restore with the given hook specs.
func newRun(namespace string, restore *velerov1.Restore, mutate func(*v1alpha1.RestoreHookRunSpec), specs ...v1alpha1.RestoreResourceHookSpec) *v1alpha1.RestoreHookRun {
	run := &v1alpha1.RestoreHookRun{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "run-" + rand.String(5)},
		Spec: v1alpha1.RestoreHookRunSpec{
			RestoreRef: v1alpha1.RestoreReference{Name: restore.Name, Namespace: veleroNS},
			Hooks:      v1alpha1.RestoreHooks{Resources: specs},
		},
	}
	if mutate != nil {
		mutate(&run.Spec)
	}
	Expect(k8sClient.Create(ctx, run)).To(Succeed())
	return run
}

func execSpec(name string, hooks ...*v1alpha1.ExecRestoreHook) v1alpha1.RestoreResourceHookSpec {
	s := v1alpha1.RestoreResourceHookSpec{Name: name}
	for _, h := range hooks {
		s.PostHooks = append(s.PostHooks, v1alpha1.RestoreResourceHook{Exec: h})
	}
	return s
}

func execHook(container string, cmd ...string) *v1alpha1.ExecRestoreHook {
	return &v1alpha1.ExecRestoreHook{Container: container, Command: cmd}
}

// getRun fetches the run's latest state from the API server.
func getRun(run *v1alpha1.RestoreHookRun) *v1alpha1.RestoreHookRun {
	out := &v1alpha1.RestoreHookRun{}
	Expect(k8sClient.Get(ctx, clientKey(run), out)).To(Succeed())
	return out
}

// recordPhases renders the run's records as "pod/container:index=Phase(Reason)".
func recordPhases(run *v1alpha1.RestoreHookRun) func() []string {
	return func() []string {
		cur := &v1alpha1.RestoreHookRun{}
		if err := k8sClient.Get(ctx, clientKey(run), cur); err != nil {
			return []string{err.Error()}
		}
		var out []string
		for _, r := range cur.Status.Hooks {
			_, pod, _ := strings.Cut(r.Pod, "/")
			s := fmt.Sprintf("%s/%s:%d=%s", pod, r.Container, r.Index, r.Phase)
			if r.Reason != "" {
				s += "(" + string(r.Reason) + ")"
			}
			out = append(out, s)
		}
		return out
	}
}

func runPhase(run *v1alpha1.RestoreHookRun) func() v1alpha1.RunPhase {
	return func() v1alpha1.RunPhase {
		cur := &v1alpha1.RestoreHookRun{}
		if err := k8sClient.Get(ctx, clientKey(run), cur); err != nil {
			return v1alpha1.RunPhase(err.Error())
		}
		return cur.Status.Phase
	}
}

// eventReasons lists the reasons of events about an object in its namespace.
func eventReasons(obj client.Object) func() []string {
	return func() []string {
		var list eventsv1.EventList
		if err := k8sClient.List(ctx, &list, client.InNamespace(obj.GetNamespace())); err != nil {
			return []string{err.Error()}
		}
		var out []string
		for _, e := range list.Items {
			if e.Regarding.Name == obj.GetName() {
				out = append(out, e.Reason)
			}
		}
		return out
	}
}

// ensureVeleroNamespace creates the Velero namespace unless an earlier spec did.
func ensureVeleroNamespace() {
	err := k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: veleroNS}})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		Expect(err).NotTo(HaveOccurred())
	}
}

// takenOver returns annotations as the pod webhook leaves them when run (namespace/name) takes their exec
// hook over from Velero: this suite runs no webhooks.
func takenOver(run string, annotations map[string]string) map[string]string {
	out, _ := hook.TakeOver(annotations, run)
	return out
}
