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

package velero

import (
	"encoding/json"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/hook"
	"github.com/restorehooks/restore-hook-operator/internal/localcluster"
)

var _ = Describe("The test bed: a real Velero backup and restore", func() {
	It("restores a namespace, binds and runs its pod, and Velero's server runs the annotation exec hook once", func() {
		dir := hookDir()
		execFile := filepath.Join(dir, "exec-hook")
		ns := newNamespace()
		cmd, err := json.Marshal([]string{"/bin/sh", "-c", "echo ran >> " + execFile})
		Expect(err).NotTo(HaveOccurred())
		runningPod(appPod(ns, "app", map[string]string{
			hook.ExecContainerAnnotation:      "app",
			hook.ExecCommandAnnotation:        string(cmd),
			hook.InitContainerImageAnnotation: "busybox",
			hook.InitContainerNameAnnotation:  "restore-init",
			hook.InitCommandAnnotation:        `["/bin/sh", "-c", "echo init"]`,
		}, "app"))
		// Nothing runs restore hooks of a pod that was never restored.
		Expect(lines(execFile)).To(BeNil())

		b := backup(ns)
		Expect(b.Status.Progress).NotTo(BeNil())
		Expect(b.Status.Progress.ItemsBackedUp).To(BeNumerically(">=", 2), "the namespace and its pod")

		deleteNamespace(ns)

		name := newRestoreName()
		r := restore(name, b, ns)
		Expect(r.Status.Phase).To(Equal(velerov1.RestorePhaseCompleted), localcluster.RestoreSummary(r))
		Expect(r.Status.Errors).To(BeZero())

		By("the restored pod: labelled by Velero, bound by the binder, run by kwok")
		pod := restoredPodRunning(ns, "app")
		Expect(pod.Labels).To(HaveKeyWithValue(velerov1.RestoreNameLabel, name))
		Expect(pod.Labels).To(HaveKeyWithValue(velerov1.BackupNameLabel, b.Name))
		Expect(pod.Spec.NodeName).To(Equal(kwok.ManagedNode))
		Expect(velero.Binder.Bound()).To(ContainElement(ns + "/app"))
		Expect(velero.Binder.Err()).NotTo(HaveOccurred())
		// Velero injected the annotation's init container itself, once.
		Expect(initContainerNames(pod)).To(Equal([]string{"restore-init"}))

		By("with no RestoreHookRun, Velero's own server ran the exec hook, exactly once")
		Expect(lines(execFile)).To(Equal([]string{"ran"}))
		Expect(hooksAttempted(r)).To(Equal(1))
		Expect(hooksFailed(r)).To(BeZero())
		Expect(veleroExecHookRuns(name, ns, "app")).To(HaveLen(1))
		Consistently(fileLines(execFile)).Should(Equal([]string{"ran"}))
		runs := &v1alpha1.RestoreHookRunList{}
		Expect(k8sClient.List(ctx, runs, client.InNamespace(ns))).To(Succeed())
		Expect(runs.Items).To(BeEmpty())
	})
})

// initContainerNames lists a pod's init containers by name.
func initContainerNames(p *corev1.Pod) []string {
	var out []string
	for _, c := range p.Spec.InitContainers {
		out = append(out, c.Name)
	}
	return out
}
