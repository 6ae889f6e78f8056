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
	"os"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"

	"github.com/restorehooks/restore-hook-operator/internal/localcluster"
	"github.com/restorehooks/restore-hook-operator/test/hookfiles"
)

const (
	veleroNS = localcluster.DefaultVeleroNamespace

	// Generous: Velero, kwok, the API server and the operator share two busy cores with other suites.
	backupTimeout  = 2 * time.Minute
	restoreTimeout = 3 * time.Minute
	deleteTimeout  = time.Minute
	podTimeout     = time.Minute
)

// newNamespace creates a namespace with a generated name; each spec backs up and restores its own.
func newNamespace() string {
	GinkgoHelper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "vt-" + rand.String(6)}}
	Expect(k8sClient.Create(ctx, ns)).To(Succeed())
	return ns.Name
}

// appPod returns (does not create) a pod in namespace with busybox containers of the given names.
func appPod(namespace, name string, annotations map[string]string, containers ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Annotations: annotations,
		Labels: map[string]string{"app": name}}}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c, Image: "busybox"})
	}
	return p
}

// runningPod creates the pod on kwok's managed node and waits until it runs: the application as it was
// before the backup.
func runningPod(p *corev1.Pod) {
	GinkgoHelper()
	Expect(kwok.RunManagedPod(ctx, p, podTimeout)).To(Succeed())
}

// backup makes a real Backup of the namespaces through Velero's server and waits until it is Completed,
// then checks the backup reached the object store.
func backup(namespaces ...string) *velerov1.Backup {
	GinkgoHelper()
	b, err := velero.Backup(ctx, "b-"+rand.String(6), backupTimeout, namespaces...)
	Expect(err).NotTo(HaveOccurred())
	Expect(velero.Store.Objects("backups/"+b.Name+"/")).NotTo(BeEmpty(), "backup %s in the object store", b.Name)
	return b
}

// deleteNamespace deletes the namespace and all it holds, and waits until it is gone (the disaster the
// restore recovers from).
func deleteNamespace(ns string) {
	GinkgoHelper()
	Expect(localcluster.DeleteNamespace(ctx, cfg, ns, deleteTimeout)).To(Succeed())
}

// newRestoreName is a fresh Restore name, for a spec that creates its RestoreHookRun before the Restore.
func newRestoreName() string { return "r-" + rand.String(6) }

// restore makes a real Restore named name of the namespaces from b, exactly as 'velero restore create'
// would (nothing in it is about the test bed), and returns it once Velero is finished with it, whatever
// its phase.
func restore(name string, b *velerov1.Backup, namespaces ...string) *velerov1.Restore {
	GinkgoHelper()
	r, err := velero.Restore(ctx, velero.NewRestore(name, b.Name, namespaces...), restoreTimeout)
	Expect(err).NotTo(HaveOccurred())
	GinkgoWriter.Printf("Restore %s: %s\n", r.Name, localcluster.RestoreSummary(r))
	return r
}

// hooksAttempted and hooksFailed read Velero's own hook counters; Velero omits zero ones.
func hooksAttempted(r *velerov1.Restore) int {
	if r.Status.HookStatus == nil {
		return 0
	}
	return r.Status.HookStatus.HooksAttempted
}

func hooksFailed(r *velerov1.Restore) int {
	if r.Status.HookStatus == nil {
		return 0
	}
	return r.Status.HookStatus.HooksFailed
}

// restoredPodRunning waits until Velero's restored pod is bound and kwok runs it, and returns it.
func restoredPodRunning(namespace, name string) *corev1.Pod {
	GinkgoHelper()
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	Expect(kwok.WaitPodRunning(ctx, p, podTimeout)).To(Succeed())
	return p
}

// Reading back what hook commands wrote (test/hookfiles).
var (
	lines     = hookfiles.Lines
	fileLines = hookfiles.Poll
)

// hookDir is a fresh directory for the files one spec's hooks write.
func hookDir() string { return hookfiles.Dir("velero-hooks-") }

// veleroExecHookRuns returns the lines of Velero's server log saying it ran an exec hook for restore in
// pod namespace/name: the server logs "running exec hook" once per hook it executes, with the fields
// pod=NAMESPACE/NAME and restore=NAME (the per-restore log in the object store does not have them).
func veleroExecHookRuns(restore, namespace, name string) []string {
	GinkgoHelper()
	data, err := os.ReadFile(velero.LogFile)
	Expect(err).NotTo(HaveOccurred())
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if strings.Contains(line, "running exec hook") && slices.Contains(fields, "restore="+restore) &&
			slices.Contains(fields, "pod="+namespace+"/"+name) {
			out = append(out, line)
		}
	}
	return out
}
