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

package reliability

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/hook"
)

const mib = 1 << 20

var _ = Describe("Hostile input", func() {
	var (
		m       *managerProcess
		ns, dir string
		restore *velerov1.Restore
	)
	BeforeEach(func() {
		m = startManager("hostile", managerFlags{webhooks: true})
		ns, restore, dir = newNamespace(), newRestore(), hookDir()
	})
	// Whatever the spec did, the manager is alive and both probes answer afterwards.
	AfterEach(func() {
		Expect(m.running()).To(BeTrue(), "the manager exited:\n%s", m.logTail(4000))
		Expect(m.probeOK("/healthz")).To(Succeed())
		Expect(m.probeOK("/readyz")).To(Succeed())
		Expect(m.log()).NotTo(ContainSubstring("panic"))
	})

	It("rejects or records with a clear error: huge and unicode annotations", func() {
		// The run exists before the pods, so the pod webhook takes their annotation hooks over from Velero.
		run := newRun(ns, restore)
		By("a 1 MiB annotation value: the API server refuses the pod, so nothing reaches the operator")
		huge := restoredPod(ns, "huge-0", restore, nil, map[string]string{
			hook.ExecCommandAnnotation: `["/bin/sh", "-c", "` + strings.Repeat("x", mib) + `"]`,
		}, "main")
		err := kwok.CreateManagedPod(ctx, huge)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(ContainSubstring("metadata.annotations"))

		By("a 40 KiB command annotation that is not JSON: the hook fails InvalidAnnotation, message bounded")
		runningPod(restoredPod(ns, "garbled-0", restore, nil, map[string]string{
			hook.ExecCommandAnnotation: "[" + strings.Repeat("ü\x01", 20*1024/3),
		}, "main"))

		By("a 200 KiB one, which JSON escaping would grow past the API server's 256 KiB: admitted unchanged, left to Velero")
		runningPod(restoredPod(ns, "garbled-1", restore, nil, map[string]string{
			hook.ExecCommandAnnotation: "[" + strings.Repeat("ü\x01", 100*1024/3),
		}, "main"))

		By("unicode in the command, its output and a container name")
		out := filepath.Join(dir, "unicode")
		text := "ünïcødé✓日本語🚀"
		cmd, err := json.Marshal([]string{"/bin/sh", "-c", fmt.Sprintf("printf '%%s\\n' '%s' >> %s; printf '%%s' '%s'", text, out, text)})
		Expect(err).NotTo(HaveOccurred())
		runningPod(restoredPod(ns, "unicode-0", restore, nil, map[string]string{hook.ExecCommandAnnotation: string(cmd)}, "main"))
		runningPod(restoredPod(ns, "unicode-1", restore, nil, map[string]string{
			hook.ExecCommandAnnotation: "true", hook.ExecContainerAnnotation: "mäin✓",
		}, "main"))

		completeRestore(restore)
		Expect(waitTerminal(run, 30*time.Second)).To(Equal(v1alpha1.RunPhasePartiallyFailed), "records: %v", records(run)())
		Expect(records(run)()).To(ConsistOf(
			"garbled-0/main:0=Failed(InvalidAnnotation)#0", "garbled-1/main:0=Skipped(RunByVelero)#0",
			"unicode-0/main:0=Succeeded#1", "unicode-1/mäin✓:0=Failed(ContainerNotFound)#0"))

		garbled := record(run, "garbled-0", "main", 0)
		Expect(len(garbled.Message)).To(BeNumerically("<=", 1024))
		Expect(garbled.Message).To(ContainSubstring(hook.ExecCommandAnnotation))
		Expect(garbled.Message).To(ContainSubstring("JSON"))
		Expect(record(run, "unicode-0", "main", 0).Stdout).To(Equal(text))
		Expect(lines(out)).To(Equal([]string{text}))
		Expect(record(run, "unicode-1", "mäin✓", 0).Message).To(ContainSubstring("is not in pod"))
		expectCountersAddUp(run)
	})

	It("rejects invalid selectors and patterns at admission, naming the field", func() {
		bad := runFor(ns, restore, v1alpha1.RestoreResourceHookSpec{Name: "h",
			LabelSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Bogus"}}},
			PostHooks:     []v1alpha1.RestoreResourceHook{{Exec: shellHook("main", "true")}}})
		err := k8sClient.Create(ctx, bad)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("spec.hooks.resources[0].labelSelector"))
		Expect(err.Error()).To(ContainSubstring("Bogus"))

		bad = runFor(ns, restore, v1alpha1.RestoreResourceHookSpec{Name: "h",
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "not a label value!"}},
			PostHooks:     []v1alpha1.RestoreResourceHook{{Exec: shellHook("main", "true")}}})
		err = k8sClient.Create(ctx, bad)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("spec.hooks.resources[0].labelSelector"))

		bad = runFor(ns, restore, v1alpha1.RestoreResourceHookSpec{Name: "h", IncludedNamespaces: []string{"[unclosed"},
			PostHooks: []v1alpha1.RestoreResourceHook{{Exec: shellHook("main", "true")}}})
		err = k8sClient.Create(ctx, bad)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("spec.hooks.resources[0].includedNamespaces[0]"))
		Expect(err.Error()).To(ContainSubstring("glob"))
	})

	It("handles a run with thousands of hooks, and rejects one past the schema's bounds", func() {
		By("257 hook specs: past the schema's bound")
		specs := make([]v1alpha1.RestoreResourceHookSpec, 257)
		for i := range specs {
			specs[i] = hookSpec(fmt.Sprintf("h%d", i), nil, shellHook("main", "true"))
		}
		err := k8sClient.Create(ctx, runFor(ns, restore, specs...))
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(ContainSubstring("spec.hooks.resources"))
		Expect(err.Error()).To(ContainSubstring("must have at most 256 items"))

		By("256 specs × 8 hooks: one real hook, 2,040 naming containers the pod lacks")
		ran := filepath.Join(dir, "ran")
		specs = []v1alpha1.RestoreResourceHookSpec{hookSpec("real", nil, shellHook("main", "echo ran >> "+ran))}
		for i := 1; i < 256; i++ {
			var hooks []*v1alpha1.ExecRestoreHook
			for j := range 8 {
				hooks = append(hooks, shellHook(fmt.Sprintf("absent-%d-%d", i, j), "echo never >> "+ran))
			}
			specs = append(specs, hookSpec(fmt.Sprintf("spec-%d", i), nil, hooks...))
		}
		runningPod(restoredPod(ns, "many-0", restore, nil, nil, "main"))
		run := newRun(ns, restore, specs...)
		completeRestore(restore)

		Expect(waitTerminal(run, time.Minute)).To(Equal(v1alpha1.RunPhasePartiallyFailed))
		st := getRun(run).Status
		Expect([]int32{st.HooksAttempted, st.HooksSucceeded, st.HooksFailed}).To(Equal([]int32{2041, 1, 2040}))
		expectCountersAddUp(run)
		Expect(lines(ran)).To(Equal([]string{"ran"}))
		raw, err := json.Marshal(getRun(run))
		Expect(err).NotTo(HaveOccurred())
		GinkgoWriter.Printf("run with %d hooks: %d bytes, %d records kept, %d omitted\n",
			st.HooksAttempted, len(raw), len(st.Hooks), st.HooksOmitted)
		Expect(len(raw)).To(BeNumerically("<", mib), "the status stays bounded")
		// 2,040 failed records do not fit: the pod's records are folded into counters that keep the
		// totals exact, and the Degraded condition says how many failed.
		Expect(st.HooksOmittedFailed).To(BeNumerically("<=", 2040))
		Expect(meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionDegraded).Message).To(ContainSubstring("2040 hooks failed"))
	})

	It("records a command too long to send as ExecError, without running it", func() {
		ran := filepath.Join(dir, "ran")
		runningPod(restoredPod(ns, "db-0", restore, nil, nil, "main"))
		// One argument of 1 MiB is more than Linux lets a process start with (MAX_ARG_STRLEN, 128 KiB):
		// the exec reaches the node, which cannot start the command.
		run := newRun(ns, restore, hookSpec("h", nil,
			shellHook("main", "echo ran >> "+ran+" # "+strings.Repeat("x", mib)),
			shellHook("main", "echo after >> "+ran)))
		completeRestore(restore)
		Expect(waitTerminal(run, 30*time.Second)).To(Equal(v1alpha1.RunPhasePartiallyFailed), "records: %v", records(run)())
		Expect(records(run)()).To(Equal([]string{"db-0/main:0=Failed(ExecError)#1", "db-0/main:1=Succeeded#1"}))
		rec := record(run, "db-0", "main", 0)
		GinkgoWriter.Printf("oversized command recorded as: %s\n", rec.Message)
		Expect(len(rec.Message)).To(BeNumerically("<=", 1024))
		Expect(rec.Message).To(HavePrefix("exec in "+ns+"/db-0"), "the message says where")
		Expect(rec.Message).To(ContainSubstring("argument list too long"), "and, for all the argv's bulk, why")
		Expect(lines(ran)).To(Equal([]string{"after"}))
	})
})
