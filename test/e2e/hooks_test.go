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

package e2e

import (
	"encoding/json"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
)

var _ = Describe("Exec hooks through kwok's pods/exec", func() {
	var (
		ns      string
		restore *velerov1.Restore
		dir     string
	)

	BeforeEach(func() {
		ns = newNamespace()
		restore = newRestore()
		dir = hookDir()
	})

	It("runs an annotation hook once and records it Succeeded with its stdout tail", func() {
		order := filepath.Join(dir, "order")
		cmd, err := json.Marshal(shell("echo a >> " + order + "; echo annotation-hook-out"))
		Expect(err).NotTo(HaveOccurred())
		// The run exists first, so the pod webhook takes the hook over from Velero (SPEC §9).
		run := newRun(ns, restore)
		pod := runningPod(restoredPod(ns, "db-0", restore, nil, map[string]string{
			"post.hook.restore.velero.io/command": string(cmd),
		}, "db", "sidecar"))
		completeRestore(restore)

		Eventually(runPhase(run)).Should(Equal(v1alpha1.RunPhaseCompleted))
		rec := record(run, "db-0", "db", 0)
		Expect(rec.Phase).To(Equal(v1alpha1.HookPhaseSucceeded))
		Expect(rec.Source).To(Equal(v1alpha1.HookSourceAnnotation))
		Expect(rec.Hook).To(Equal(v1alpha1.AnnotationHookName))
		Expect(rec.Attempts).To(Equal(int32(1)))
		Expect(rec.Stdout).To(Equal("annotation-hook-out\n"))
		Expect(rec.ExitCode).To(SatisfyAny(BeNil(), HaveValue(BeZero())))
		Expect(records(run)()).To(ConsistOf("db-0/db:0=Succeeded"))
		st := getRun(run).Status
		Expect([]int32{st.HooksAttempted, st.HooksSucceeded, st.HooksFailed}).To(Equal([]int32{1, 1, 0}))

		// Once: the command ran a single time, and nothing sends it again while the run sits finished.
		Expect(lines(order)).To(Equal([]string{"a"}))
		Consistently(fileLines(order)).Should(Equal([]string{"a"}))

		// Velero's declaration is back on the pod, for a later backup, and the pod says who ran it.
		var got corev1.Pod
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(pod), &got)).To(Succeed())
		Expect(got.Annotations).To(HaveKeyWithValue("post.hook.restore.velero.io/command", string(cmd)))
		Expect(got.Annotations).To(HaveKeyWithValue("restorehooks.io/hooks-done", run.Namespace+"/"+run.Name))
		Expect(got.Annotations).NotTo(HaveKey("restorehooks.io/post-hook"))
		Expect(got.Annotations).NotTo(HaveKey("restorehooks.io/post-hook-run"))
	})

	It("leaves to Velero an annotation hook of a pod created before any run covered it", func() {
		order := filepath.Join(dir, "order")
		cmd, err := json.Marshal(shell("echo a >> " + order))
		Expect(err).NotTo(HaveOccurred())
		runningPod(restoredPod(ns, "early-0", restore, nil, map[string]string{
			"post.hook.restore.velero.io/command": string(cmd),
		}, "main"))
		run := newRun(ns, restore)
		completeRestore(restore)

		Eventually(runPhase(run)).Should(Equal(v1alpha1.RunPhaseCompleted))
		rec := record(run, "early-0", "main", 0)
		Expect(rec.Phase).To(Equal(v1alpha1.HookPhaseSkipped))
		Expect(rec.Reason).To(Equal(v1alpha1.ReasonRunByVelero))
		Expect(rec.Message).To(ContainSubstring("Velero's server runs this annotation hook"))
		st := getRun(run).Status
		Expect([]int32{st.HooksAttempted, st.HooksSkipped, st.HooksFailed}).To(Equal([]int32{0, 1, 0}))
		Consistently(fileLines(order), "1s").Should(BeEmpty(), "the operator ran a hook that is Velero's")
	})

	It("runs each container's hooks in declaration order, containers in the order they came up", func() {
		order := filepath.Join(dir, "order")
		appendLine := func(line string) string { return "echo " + line + " >> " + order }
		pod := startingPod(restoredPod(ns, "app-0", restore, nil, nil, "a", "b"))
		// Declared a1, b1, a2, b2: declaration order across containers would run a's hooks first.
		run := newRun(ns, restore, hookSpec("ordered", nil,
			shellHook("a", appendLine("a1")),
			shellHook("b", appendLine("b1")+"; sleep 2"),
			shellHook("a", appendLine("a2")),
			shellHook("b", appendLine("b2")),
		))
		Eventually(records(run)).Should(ConsistOf(
			"app-0/a:0=Waiting", "app-0/b:1=Waiting", "app-0/a:2=Waiting", "app-0/b:3=Waiting"))

		// b comes up first; a comes up while b's first hook is still running, in a later second (the
		// containers' startedAt, which the API keeps to the second, tells which came up first).
		Expect(kwok.SetContainersRunning(ctx, pod, true, "b")).To(Succeed())
		bUp := containerStartedAt(pod, "b")
		Eventually(fileLines(order)).Should(Equal([]string{"b1"}))
		time.Sleep(time.Until(bUp.Add(1100 * time.Millisecond)))
		Expect(record(run, "app-0", "b", 1).Phase).To(Equal(v1alpha1.HookPhaseRunning), "b1 should still be running when a comes up")
		Expect(kwok.SetContainersRunning(ctx, pod, true, "a")).To(Succeed())

		Eventually(records(run)).Should(ConsistOf(
			"app-0/a:0=Succeeded", "app-0/b:1=Succeeded", "app-0/a:2=Succeeded", "app-0/b:3=Succeeded"))
		Expect(lines(order)).To(Equal([]string{"b1", "b2", "a1", "a2"}))
		completeRestore(restore)
		Eventually(runPhase(run)).Should(Equal(v1alpha1.RunPhaseCompleted))
	})

	// A container whose hooks have begun is served to the end, whatever the start times say.
	It("serves a container that became Ready later after the one already served, even if it started earlier", func() {
		order := filepath.Join(dir, "order")
		appendLine := func(line string) string { return "echo " + line + " >> " + order }
		pod := startingPod(restoredPod(ns, "app-0", restore, nil, nil, "a", "b"))
		a1 := shellHook("a", appendLine("a1"))
		a1.WaitForReady = ptr.To(true)
		run := newRun(ns, restore, hookSpec("ordered", nil,
			a1,
			shellHook("b", appendLine("b1")+"; sleep 1"),
			shellHook("a", appendLine("a2")),
			shellHook("b", appendLine("b2")),
		))
		// a starts first but is not Ready: its hooks wait for Ready.
		Expect(kwok.SetContainersRunning(ctx, pod, false, "a")).To(Succeed())
		time.Sleep(time.Until(containerStartedAt(pod, "a").Add(1100 * time.Millisecond)))
		// b starts a second later and is up (no waitForReady): its hooks run.
		Expect(kwok.SetContainersRunning(ctx, pod, false, "b")).To(Succeed())
		Eventually(fileLines(order)).Should(Equal([]string{"b1"}))
		// a becomes Ready while b1 runs: it came up after b, so b's hooks finish first. (A kubelet keeps
		// startedAt when a container turns Ready.)
		Expect(kwok.UpdatePodStatus(ctx, pod, func(st *corev1.PodStatus) {
			for i := range st.ContainerStatuses {
				if st.ContainerStatuses[i].Name == "a" {
					st.ContainerStatuses[i].Ready = true
				}
			}
		})).To(Succeed())

		Eventually(records(run)).Should(ConsistOf(
			"app-0/a:0=Succeeded", "app-0/b:1=Succeeded", "app-0/a:2=Succeeded", "app-0/b:3=Succeeded"))
		Expect(lines(order)).To(Equal([]string{"b1", "b2", "a1", "a2"}))
	})

	It("aborts every hook not yet started, in every pod, when an onError: Fail hook fails", func() {
		bRan := filepath.Join(dir, "b-ran")
		podA := runningPod(restoredPod(ns, "a-0", restore, map[string]string{"app": "a"}, nil, "main"))
		podB := startingPod(restoredPod(ns, "b-0", restore, map[string]string{"app": "b"}, nil, "main"))
		failing := shellHook("main", "echo failing; exit 3")
		failing.OnError = v1alpha1.HookErrorModeFail
		run := newRun(ns, restore,
			hookSpec("a-hooks", map[string]string{"app": "a"}, failing),
			hookSpec("b-hooks", map[string]string{"app": "b"},
				shellHook("main", "echo b0 >> "+bRan), shellHook("main", "echo b1 >> "+bRan)),
		)
		completeRestore(restore)

		Eventually(runPhase(run)).Should(Equal(v1alpha1.RunPhasePartiallyFailed))
		Expect(records(run)()).To(ConsistOf(
			"a-0/main:0=Failed(NonZeroExit)",
			"b-0/main:0=Skipped(AbortedByFailPolicy)",
			"b-0/main:1=Skipped(AbortedByFailPolicy)",
		))
		recA := record(run, podA.Name, "main", 0)
		Expect(recA.ExitCode).To(HaveValue(Equal(int32(3))))
		Expect(recA.Stdout).To(Equal("failing\n"))
		Expect(getRun(run).Status.AbortedBy).NotTo(BeEmpty())

		// B's container comes up after the abort: its skipped hooks must never run.
		Expect(kwok.SetContainersRunning(ctx, podB, true, "main")).To(Succeed())
		Consistently(fileLines(bRan), 1500*time.Millisecond).Should(BeNil())
		Expect(records(run)()).To(ContainElement("b-0/main:0=Skipped(AbortedByFailPolicy)"))
	})

	It("records a non-zero exit with its exit code, message and output tails", func() {
		ran := filepath.Join(dir, "ran")
		runningPod(restoredPod(ns, "db-0", restore, nil, nil, "db"))
		run := newRun(ns, restore, hookSpec("migrate", nil,
			shellHook("db", "echo ran >> "+ran+"; echo partial-output; echo 'migration 42 failed' >&2; exit 7"),
			shellHook("db", "echo after >> "+ran),
		))
		completeRestore(restore)

		Eventually(runPhase(run)).Should(Equal(v1alpha1.RunPhasePartiallyFailed))
		// onError defaults to Continue: the next hook of the pod still runs.
		Expect(records(run)()).To(ConsistOf("db-0/db:0=Failed(NonZeroExit)", "db-0/db:1=Succeeded"))
		rec := record(run, "db-0", "db", 0)
		Expect(rec.ExitCode).To(HaveValue(Equal(int32(7))))
		Expect(rec.Message).To(ContainSubstring("7"))
		Expect(rec.Stderr).To(Equal("migration 42 failed\n"))
		Expect(rec.Stdout).To(Equal("partial-output\n"))
		Expect(rec.Attempts).To(Equal(int32(1)))
		st := getRun(run).Status
		Expect([]int32{st.HooksAttempted, st.HooksSucceeded, st.HooksFailed}).To(Equal([]int32{2, 1, 1}))
		Expect(lines(ran)).To(Equal([]string{"ran", "after"}))
	})

	It("fails a command still running at execTimeout with ExecTimeout, without waiting for it", func() {
		started := filepath.Join(dir, "started")
		runningPod(restoredPod(ns, "db-0", restore, nil, nil, "db"))
		slow := shellHook("db", "echo started >> "+started+"; sleep 30")
		slow.ExecTimeout = duration(time.Second)
		begin := time.Now()
		run := newRun(ns, restore, hookSpec("slow", nil, slow))
		completeRestore(restore)

		Eventually(runPhase(run), 10*time.Second).Should(Equal(v1alpha1.RunPhasePartiallyFailed))
		Expect(time.Since(begin)).To(BeNumerically("<", 10*time.Second))
		Expect(records(run)()).To(ConsistOf("db-0/db:0=Failed(ExecTimeout)"))
		rec := record(run, "db-0", "db", 0)
		Expect(rec.StartTime).NotTo(BeNil())
		Expect(rec.CompletionTime).NotTo(BeNil())
		// Timestamps keep seconds only: 1s of execTimeout reads as 1 to 3 seconds.
		Expect(rec.CompletionTime.Sub(rec.StartTime.Time)).To(BeNumerically("<=", 3*time.Second))
		Expect(lines(started)).To(Equal([]string{"started"}), "the command was sent")
	})

	It("fails a hook whose container never comes up with WaitTimeout and never runs it", func() {
		ran := filepath.Join(dir, "ran")
		pod := startingPod(restoredPod(ns, "db-0", restore, nil, nil, "db"))
		h := shellHook("db", "echo ran >> "+ran)
		h.WaitTimeout = duration(2 * time.Second)
		begin := time.Now()
		run := newRun(ns, restore, hookSpec("stuck", nil, h))
		completeRestore(restore)

		Eventually(records(run)).Should(ConsistOf("db-0/db:0=Waiting"))
		Eventually(runPhase(run), 15*time.Second).Should(Equal(v1alpha1.RunPhasePartiallyFailed))
		// The wait counts from the run's start (or the pod's creation), which the API keeps to the second:
		// up to a second of it may have passed before begin.
		Expect(time.Since(begin)).To(BeNumerically(">=", time.Second))
		Expect(records(run)()).To(ConsistOf("db-0/db:0=Failed(WaitTimeout)"))
		rec := record(run, "db-0", "db", 0)
		Expect(rec.Attempts).To(BeZero())
		Expect(rec.Message).NotTo(BeEmpty())
		Expect(lines(ran)).To(BeNil())

		// The container coming up late changes nothing: the hook stays failed and unexecuted.
		Expect(kwok.SetContainersRunning(ctx, pod, true, "db")).To(Succeed())
		Consistently(fileLines(ran)).Should(BeNil())
	})
})
