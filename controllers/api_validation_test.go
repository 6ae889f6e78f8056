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
	"encoding/json"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	hooksv1alpha1 "github.com/restorehooks/restore-hook-operator/api/v1alpha1"
)

// The two hooks blocks of Velero's restore-hooks documentation (site/content/docs/main/restore-hooks.md),
// pasted unchanged under spec.
const (
	veleroDocsInitExample = `
hooks:
  resources:
  - name: restore-hook-1
    includedNamespaces:
    - app
    postHooks:
    - init:
        initContainers:
        - name: restore-hook-init1
          image: alpine:latest
          volumeMounts:
          - mountPath: /restores/pvc1-vm
            name: pvc1-vm
          command:
          - /bin/ash
          - -c
          - echo -n "FOOBARBAZ" >> /restores/pvc1-vm/foobarbaz
        - name: restore-hook-init2
          image: alpine:latest
          volumeMounts:
          - mountPath: /restores/pvc2-vm
            name: pvc2-vm
          command:
          - /bin/ash
          - -c
          - echo -n "DEADFEED" >> /restores/pvc2-vm/deadfeed
`
	veleroDocsExecExample = `
hooks:
  resources:
  - name: restore-hook-1
    includedNamespaces:
    - app
    postHooks:
    - exec:
        execTimeout: 1m
        waitTimeout: 5m
        onError: Fail
        container: postgres
        command:
        - /bin/bash
        - '-c'
        - 'while ! pg_isready; do sleep 1; done'
    - exec:
        container: postgres
        waitTimeout: 6m
        execTimeout: 1m
        command:
        - /bin/bash
        - '-c'
        - 'psql < /backup/backup.sql'
    - exec:
        container: sidecar
        command:
        - /bin/bash
        - '-c'
        - 'date > /start'
`
)

// runFromHooksYAML builds an unstructured RestoreHookRun whose spec is the given YAML (a hooks block as
// it appears in a Velero Restore) plus a restoreRef, so the text reaches the API server untouched.
func runFromHooksYAML(namespace, specYAML string) *unstructured.Unstructured {
	spec := map[string]any{}
	Expect(yaml.Unmarshal([]byte(specYAML), &spec)).To(Succeed())
	spec["restoreRef"] = map[string]any{"name": "r2"}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": hooksv1alpha1.GroupVersion.String(),
		"kind":       "RestoreHookRun",
		"metadata":   map[string]any{"generateName": "pasted-", "namespace": namespace},
		"spec":       spec,
	}}
	return u
}

// validRun returns a run that passes every rule, for the table below to break one rule at a time.
func validRun(namespace string) *hooksv1alpha1.RestoreHookRun {
	return &hooksv1alpha1.RestoreHookRun{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "run-", Namespace: namespace},
		Spec: hooksv1alpha1.RestoreHookRunSpec{
			RestoreRef: hooksv1alpha1.RestoreReference{Name: "r1"},
			Hooks: hooksv1alpha1.RestoreHooks{Resources: []hooksv1alpha1.RestoreResourceHookSpec{{
				Name: "db",
				PostHooks: []hooksv1alpha1.RestoreResourceHook{
					{Exec: &hooksv1alpha1.ExecRestoreHook{Command: []string{"/bin/true"}}},
					{Init: &hooksv1alpha1.InitRestoreHook{InitContainers: []corev1.Container{{Name: "prep", Image: "busybox"}}}},
				},
			}}},
		},
	}
}

var _ = Describe("RestoreHookRun API", func() {
	var ns string
	BeforeEach(func() { ns = newNamespace("api") })

	Context("accepts Velero's hooks blocks unchanged", func() {
		It("accepts the init-container example from Velero's docs", func() {
			u := runFromHooksYAML(ns, veleroDocsInitExample)
			Expect(k8sClient.Create(ctx, u)).To(Succeed())

			var run hooksv1alpha1.RestoreHookRun
			Expect(k8sClient.Get(ctx, clientKey(u), &run)).To(Succeed())
			ics := run.Spec.Hooks.Resources[0].PostHooks[0].Init.InitContainers
			Expect(ics).To(HaveLen(2))
			Expect(ics[0].Name).To(Equal("restore-hook-init1"))
			Expect(ics[0].Command[2]).To(Equal(`echo -n "FOOBARBAZ" >> /restores/pvc1-vm/foobarbaz`))
			Expect(ics[1].VolumeMounts).To(Equal([]corev1.VolumeMount{{Name: "pvc2-vm", MountPath: "/restores/pvc2-vm"}}))
		})

		It("accepts the multiple-exec-hooks example from Velero's docs", func() {
			u := runFromHooksYAML(ns, veleroDocsExecExample)
			Expect(k8sClient.Create(ctx, u)).To(Succeed())

			var run hooksv1alpha1.RestoreHookRun
			Expect(k8sClient.Get(ctx, clientKey(u), &run)).To(Succeed())
			hooks := run.Spec.Hooks.Resources[0].PostHooks
			Expect(hooks).To(HaveLen(3))
			Expect(hooks[0].Exec.OnError).To(Equal(hooksv1alpha1.HookErrorModeFail))
			Expect(hooks[0].Exec.ExecTimeout.Duration).To(Equal(time.Minute))
			Expect(hooks[1].Exec.WaitTimeout.Duration).To(Equal(6 * time.Minute))
			Expect(hooks[2].Exec.Container).To(Equal("sidecar"))
		})

		It("accepts includedResources/excludedResources that keep pods, as Velero does", func() {
			u := runFromHooksYAML(ns, `
hooks:
  resources:
  - name: h
    includedResources: [pods]
    excludedResources: [deployments]
    postHooks:
    - exec: {command: [/bin/true]}
`)
			Expect(k8sClient.Create(ctx, u)).To(Succeed())
		})
	})

	It("applies defaults: podAnnotations Honor, maxWait 1h, recordOutput true, maxConcurrentPods 0", func() {
		run := validRun(ns)
		Expect(k8sClient.Create(ctx, run)).To(Succeed())
		Expect(run.Spec.PodAnnotations).To(Equal(hooksv1alpha1.PodAnnotationsHonor))
		Expect(run.Spec.MaxWait).NotTo(BeNil())
		Expect(run.Spec.MaxWait.Duration).To(Equal(time.Hour))
		Expect(run.Spec.RecordOutput).To(Equal(ptr.To(true)))
		Expect(run.Spec.MaxConcurrentPods).To(BeZero())
	})

	It("accepts every duration field with Go duration syntax", func() {
		run := validRun(ns)
		run.Spec.MaxWait = &metav1.Duration{Duration: 90 * time.Minute}
		exec := run.Spec.Hooks.Resources[0].PostHooks[0].Exec
		exec.ExecTimeout = &metav1.Duration{Duration: 1500 * time.Millisecond}
		exec.WaitTimeout = &metav1.Duration{Duration: 0}
		exec.RetryDelay = &metav1.Duration{Duration: 250 * time.Microsecond}
		exec.Retries = ptr.To[int32](3)
		run.Spec.Hooks.Resources[0].PostHooks[1].Init.Timeout = &metav1.Duration{Duration: 2 * time.Minute}
		Expect(k8sClient.Create(ctx, run)).To(Succeed())
	})

	// Each entry breaks exactly one rule of a valid run, and expects the API server's message to name the
	// field (and, where the rule has one, to say why).
	DescribeTable("rejects invalid runs with a message naming the field",
		func(mutate func(u map[string]any), wants ...string) {
			run := validRun(ns)
			raw, err := json.Marshal(run)
			Expect(err).NotTo(HaveOccurred())
			obj := map[string]any{}
			Expect(json.Unmarshal(raw, &obj)).To(Succeed())
			obj["apiVersion"] = hooksv1alpha1.GroupVersion.String()
			obj["kind"] = "RestoreHookRun"
			mutate(obj)
			u := &unstructured.Unstructured{Object: obj}

			err = k8sClient.Create(ctx, u)
			Expect(err).To(HaveOccurred(), "the API server accepted an invalid run")
			for _, want := range wants {
				Expect(err.Error()).To(ContainSubstring(want))
			}
		},
		Entry("restoreRef.name missing",
			func(u map[string]any) { delete(spec(u)["restoreRef"].(map[string]any), "name") },
			"spec.restoreRef.name", "Required value"),
		Entry("restoreRef.name empty",
			func(u map[string]any) { spec(u)["restoreRef"].(map[string]any)["name"] = "" },
			"spec.restoreRef.name"),
		Entry("hook spec without a name",
			func(u map[string]any) { delete(resource0(u), "name") },
			"spec.hooks.resources[0].name", "Required value"),
		Entry("post hook with both exec and init",
			func(u map[string]any) {
				postHooks(u)[0].(map[string]any)["init"] = map[string]any{
					"initContainers": []any{map[string]any{"name": "x", "image": "busybox"}}}
			},
			"spec.hooks.resources[0].postHooks[0]", "exactly one of exec or init"),
		Entry("post hook with neither exec nor init",
			func(u map[string]any) { postHooks(u)[0] = map[string]any{} },
			"spec.hooks.resources[0].postHooks[0]", "exactly one of exec or init"),
		Entry("exec command empty",
			func(u map[string]any) { exec0(u)["command"] = []any{} },
			"spec.hooks.resources[0].postHooks[0].exec.command", "at least 1 items"),
		Entry("exec command missing",
			func(u map[string]any) { delete(exec0(u), "command") },
			"spec.hooks.resources[0].postHooks[0].exec.command", "Required value"),
		Entry("onError not Continue or Fail",
			func(u map[string]any) { exec0(u)["onError"] = "fail" },
			"spec.hooks.resources[0].postHooks[0].exec.onError", `"fail"`, `"Continue", "Fail"`),
		Entry("execTimeout not a duration",
			func(u map[string]any) { exec0(u)["execTimeout"] = "30" },
			"spec.hooks.resources[0].postHooks[0].exec.execTimeout", `non-negative Go duration`, `got "30"`),
		Entry("execTimeout negative",
			func(u map[string]any) { exec0(u)["execTimeout"] = "-5s" },
			"spec.hooks.resources[0].postHooks[0].exec.execTimeout", `got "-5s"`),
		Entry("waitTimeout not a duration",
			func(u map[string]any) { exec0(u)["waitTimeout"] = "forever" },
			"spec.hooks.resources[0].postHooks[0].exec.waitTimeout", `got "forever"`),
		Entry("retryDelay negative",
			func(u map[string]any) { exec0(u)["retryDelay"] = "-1m" },
			"spec.hooks.resources[0].postHooks[0].exec.retryDelay", `got "-1m"`),
		Entry("retries negative",
			func(u map[string]any) { exec0(u)["retries"] = -1 },
			"spec.hooks.resources[0].postHooks[0].exec.retries", "greater than or equal to 0"),
		Entry("init timeout not a duration",
			func(u map[string]any) { init1(u)["timeout"] = "2 minutes" },
			"spec.hooks.resources[0].postHooks[1].init.timeout", `got "2 minutes"`),
		Entry("maxWait negative",
			func(u map[string]any) { spec(u)["maxWait"] = "-1h" },
			"spec.maxWait", `got "-1h"`),
		Entry("init container without an image",
			func(u map[string]any) { delete(initContainer0(u), "image") },
			"spec.hooks.resources[0].postHooks[1].init", "needs an image"),
		Entry("init container without a name",
			func(u map[string]any) { delete(initContainer0(u), "name") },
			"spec.hooks.resources[0].postHooks[1].init.initContainers[0].name", "Required value"),
		Entry("two init containers of one name in one hook",
			func(u map[string]any) {
				init1(u)["initContainers"] = []any{
					map[string]any{"name": "prep", "image": "busybox"},
					map[string]any{"name": "prep", "image": "alpine"}}
			},
			"spec.hooks.resources[0].postHooks[1].init.initContainers[1]", "Duplicate value"),
		Entry("includedResources that leave pods out",
			func(u map[string]any) { resource0(u)["includedResources"] = []any{"deployments"} },
			"spec.hooks.resources[0]", "includedResources does not include pods"),
		Entry("excludedResources that exclude pods",
			func(u map[string]any) { resource0(u)["excludedResources"] = []any{"pods"} },
			"spec.hooks.resources[0]", "excludedResources excludes pods"),
		Entry("podAnnotations not Honor or Ignore",
			func(u map[string]any) { spec(u)["podAnnotations"] = "honor" },
			"spec.podAnnotations", `"Honor", "Ignore"`),
		Entry("maxConcurrentPods negative",
			func(u map[string]any) { spec(u)["maxConcurrentPods"] = -2 },
			"spec.maxConcurrentPods", "greater than or equal to 0"),
	)

	// Issue 19 (1): records are keyed by a hook's position in the spec; an edit of a started run (a GitOps
	// sync adding an entry in front) would give a finished hook a new key and run it again.
	Context("once the run has started", func() {
		var run *hooksv1alpha1.RestoreHookRun
		BeforeEach(func() {
			run = validRun(ns)
			Expect(k8sClient.Create(ctx, run)).To(Succeed())
			run.Status.Phase = hooksv1alpha1.RunPhaseRunning
			run.Status.Hooks = []hooksv1alpha1.HookRecord{{Pod: ns + "/db-0", Hook: "db", Source: hooksv1alpha1.HookSourceSpec,
				Type: hooksv1alpha1.HookTypeExec, Phase: hooksv1alpha1.HookPhaseSucceeded}}
			Expect(k8sClient.Status().Update(ctx, run)).To(Succeed())
		})

		DescribeTable("refuses to change what decides which hooks run",
			func(edit func(*hooksv1alpha1.RestoreHookRun)) {
				edit(run)
				err := k8sClient.Update(ctx, run)
				Expect(err).To(HaveOccurred())
				Expect(err.Error()).To(ContainSubstring("cannot change once the run has started"))
				Expect(err.Error()).To(ContainSubstring("create a new RestoreHookRun"))
			},
			Entry("a hook spec inserted in front", func(r *hooksv1alpha1.RestoreHookRun) {
				r.Spec.Hooks.Resources = append([]hooksv1alpha1.RestoreResourceHookSpec{{Name: "first",
					PostHooks: []hooksv1alpha1.RestoreResourceHook{{Exec: &hooksv1alpha1.ExecRestoreHook{Command: []string{"/bin/migrate"}}}}}},
					r.Spec.Hooks.Resources...)
			}),
			Entry("a command changed", func(r *hooksv1alpha1.RestoreHookRun) {
				r.Spec.Hooks.Resources[0].PostHooks[0].Exec.Command = []string{"/bin/false"}
			}),
			Entry("another Restore", func(r *hooksv1alpha1.RestoreHookRun) { r.Spec.RestoreRef.Name = "r9" }),
			Entry("annotation hooks switched off", func(r *hooksv1alpha1.RestoreHookRun) {
				r.Spec.PodAnnotations = hooksv1alpha1.PodAnnotationsIgnore
			}),
		)

		It("still lets bounds and labels change", func() {
			run.Spec.MaxWait = &metav1.Duration{Duration: 2 * time.Hour}
			run.Spec.MaxConcurrentPods = 3
			run.Labels = map[string]string{"team": "db"}
			Expect(k8sClient.Update(ctx, run)).To(Succeed())
		})
	})

	It("lets a run that has not started yet (Pending) be corrected", func() {
		run := validRun(ns)
		Expect(k8sClient.Create(ctx, run)).To(Succeed())
		run.Status.Phase = hooksv1alpha1.RunPhasePending
		Expect(k8sClient.Status().Update(ctx, run)).To(Succeed())
		run.Spec.RestoreRef.Name = "r1-fixed"
		run.Spec.Hooks.Resources[0].PostHooks[0].Exec.Command = []string{"/bin/echo", "fixed"}
		Expect(k8sClient.Update(ctx, run)).To(Succeed())
	})

	It("rejects a run with more hook specs than the API allows, saying how many", func() {
		run := validRun(ns)
		base := run.Spec.Hooks.Resources[0]
		run.Spec.Hooks.Resources = nil
		for range 300 {
			run.Spec.Hooks.Resources = append(run.Spec.Hooks.Resources, *base.DeepCopy())
		}
		err := k8sClient.Create(ctx, run)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("spec.hooks.resources"))
		Expect(err.Error()).To(ContainSubstring("must have at most 256 items"))
	})

	It("publishes field descriptions for kubectl explain", func() {
		dc, err := discovery.NewDiscoveryClientForConfig(cfg)
		Expect(err).NotTo(HaveOccurred())
		paths, err := dc.OpenAPIV3().Paths()
		Expect(err).NotTo(HaveOccurred())
		gv, ok := paths["apis/hooks.restorehooks.io/v1alpha1"]
		Expect(ok).To(BeTrue(), "no OpenAPI v3 document for hooks.restorehooks.io/v1alpha1")
		doc, err := gv.Schema("application/json")
		Expect(err).NotTo(HaveOccurred())
		text := string(doc)
		for _, want := range []string{
			"execTimeout is how long the command may run",
			"waitForReady makes the hooks of this container wait",
			"onError is what a failure of this hook does",
			"retries is how many more times a hook",
		} {
			Expect(strings.Contains(text, want)).To(BeTrue(), "OpenAPI schema lacks %q", want)
		}
	})
})

func spec(u map[string]any) map[string]any { return u["spec"].(map[string]any) }

func resource0(u map[string]any) map[string]any {
	return spec(u)["hooks"].(map[string]any)["resources"].([]any)[0].(map[string]any)
}

func postHooks(u map[string]any) []any { return resource0(u)["postHooks"].([]any) }

func exec0(u map[string]any) map[string]any {
	return postHooks(u)[0].(map[string]any)["exec"].(map[string]any)
}

func init1(u map[string]any) map[string]any {
	return postHooks(u)[1].(map[string]any)["init"].(map[string]any)
}

func initContainer0(u map[string]any) map[string]any {
	return init1(u)["initContainers"].([]any)[0].(map[string]any)
}
