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
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/localcluster"
)

// kubectlPath finds a kubectl: on PATH, else the one kept with the envtest binaries; "" when none.
func kubectlPath() string {
	if p, err := exec.LookPath("kubectl"); err == nil {
		return p
	}
	p := filepath.Join(localcluster.AssetsDir(), "kubectl")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}

// kubectl runs kubectl against the envtest API server and returns its stdout; a failure fails the spec
// with kubectl's stderr.
func kubectl(args ...string) string {
	GinkgoHelper()
	path := kubectlPath()
	if path == "" {
		Skip("no kubectl on PATH or in " + localcluster.AssetsDir() + ": install one to run the kubectl checks")
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, path, append([]string{"--kubeconfig", kwok.Kubeconfig}, args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	Expect(cmd.Run()).To(Succeed(), "kubectl %s: %s", strings.Join(args, " "), stderr.String())
	return stdout.String()
}

// crdFieldDescription reads a field's description from the installed RestoreHookRun CRD (what
// controller-gen made of the field's godoc), so the check follows the API's wording.
func crdFieldDescription(path ...string) string {
	GinkgoHelper()
	crd := &unstructured.Unstructured{}
	crd.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
	Expect(k8sClient.Get(ctx, client.ObjectKey{Name: "restorehookruns.hooks.restorehooks.io"}, crd)).To(Succeed())
	versions, _, err := unstructured.NestedSlice(crd.Object, "spec", "versions")
	Expect(err).NotTo(HaveOccurred())
	Expect(versions).NotTo(BeEmpty())
	fields := []string{"schema", "openAPIV3Schema"}
	for _, p := range path {
		fields = append(fields, "properties", p)
		if p == "resources" || p == "postHooks" {
			fields = append(fields, "items")
		}
	}
	desc, found, err := unstructured.NestedString(versions[0].(map[string]any), append(fields, "description")...)
	Expect(err).NotTo(HaveOccurred())
	Expect(found).To(BeTrue(), "no description at %v in the CRD", path)
	return desc
}

// table parses kubectl's default table output by the header's column offsets (a cell may be blank):
// the header's column names, and each row's cells by column name, keyed by the row's NAME.
func table(out string) (header []string, rows map[string]map[string]string) {
	GinkgoHelper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	Expect(lines).NotTo(BeEmpty())
	head := lines[0]
	header = strings.Fields(head)
	starts := make([]int, len(header))
	from := 0
	for i, name := range header {
		starts[i] = from + strings.Index(head[from:], name)
		from = starts[i] + len(name)
	}
	rows = map[string]map[string]string{}
	for _, line := range lines[1:] {
		row := map[string]string{}
		for i, name := range header {
			end := len(line)
			if i+1 < len(starts) && starts[i+1] < end {
				end = starts[i+1]
			}
			if starts[i] < end {
				row[name] = strings.TrimSpace(line[starts[i]:end])
			} else {
				row[name] = ""
			}
		}
		rows[row["NAME"]] = row
	}
	return header, rows
}

// words collapses all runs of white space, so text wrapped by kubectl compares with the original.
func words(s string) string { return strings.Join(strings.Fields(s), " ") }

var _ = Describe("kubectl", func() {
	// finishedRuns creates two runs in a fresh namespace and waits for them to finish: one whose hooks
	// partly fail, one whose only hook succeeds.
	finishedRuns := func() (ns string, failed, succeeded *v1alpha1.RestoreHookRun) {
		ns = newNamespace()
		restore := newRestore()
		runningPod(restoredPod(ns, "db-0", restore, nil, nil, "db"))
		failed = newRun(ns, restore, hookSpec("mixed", nil, shellHook("db", "true"), shellHook("db", "exit 1")))
		restore2 := newRestore()
		runningPod(restoredPod(ns, "web-0", restore2, nil, nil, "web"))
		succeeded = newRun(ns, restore2, hookSpec("ok", nil, shellHook("web", "true")))
		completeRestore(restore)
		completeRestore(restore2)
		Eventually(runPhase(failed)).Should(Equal(v1alpha1.RunPhasePartiallyFailed))
		Eventually(runPhase(succeeded)).Should(Equal(v1alpha1.RunPhaseCompleted))
		return ns, failed, succeeded
	}

	It("lists runs with the RESTORE PHASE HOOKS FAILED AGE columns", func() {
		if kubectlPath() == "" {
			Skip("no kubectl on PATH or in " + localcluster.AssetsDir() + ": install one to run the kubectl checks")
		}
		ns, failed, succeeded := finishedRuns()

		out := kubectl("get", "rhr", "-n", ns)
		header, rows := table(out)
		Expect(header).To(Equal([]string{"NAME", "RESTORE", "PHASE", "HOOKS", "FAILED", "AGE"}), "kubectl get rhr printed:\n%s", out)
		Expect(rows).To(HaveLen(2), "kubectl get rhr printed:\n%s", out)
		Expect(rows).To(HaveKeyWithValue(failed.Name, HaveKeyWithValue("AGE", MatchRegexp(`^\d+s$`))))
		Expect(rows[failed.Name]).To(Equal(map[string]string{
			"NAME": failed.Name, "RESTORE": failed.Spec.RestoreRef.Name, "PHASE": "PartiallyFailed", "HOOKS": "1/2", "FAILED": "1",
			"AGE": rows[failed.Name]["AGE"],
		}), "kubectl get rhr printed:\n%s", out)
		Expect(rows[succeeded.Name]).To(HaveKeyWithValue("RESTORE", succeeded.Spec.RestoreRef.Name))
		Expect(rows[succeeded.Name]).To(HaveKeyWithValue("PHASE", "Completed"))
		Expect(rows[succeeded.Name]).To(HaveKeyWithValue("HOOKS", "1/1"))

		// The category lists runs too.
		Expect(kubectl("get", "restorehooks", "-n", ns, "-o", "name")).To(ContainSubstring("restorehookrun.hooks.restorehooks.io/" + failed.Name))
	})

	It("shows FAILED 0 for a run without failures", func() {
		if kubectlPath() == "" {
			Skip("no kubectl on PATH or in " + localcluster.AssetsDir() + ": install one to run the kubectl checks")
		}
		ns, _, succeeded := finishedRuns()
		out := kubectl("get", "rhr", "-n", ns)
		_, rows := table(out)
		Expect(rows[succeeded.Name]).To(HaveKeyWithValue("FAILED", "0"), "kubectl get rhr printed:\n%s", out)
	})

	It("explains the exec hook's fields with their descriptions", func() {
		if kubectlPath() == "" {
			Skip("no kubectl on PATH or in " + localcluster.AssetsDir() + ": install one to run the kubectl checks")
		}
		var out string
		// The API server publishes a new CRD's OpenAPI a moment after the CRD is established.
		Eventually(func(g Gomega) {
			path := kubectlPath()
			cmd := exec.CommandContext(ctx, path, "--kubeconfig", kwok.Kubeconfig,
				"explain", "restorehookrun.spec.hooks.resources.postHooks.exec")
			b, err := cmd.CombinedOutput()
			g.Expect(err).NotTo(HaveOccurred(), string(b))
			out = string(b)
		}).Should(Succeed())

		Expect(out).To(ContainSubstring("KIND:"))
		Expect(out).To(ContainSubstring("RestoreHookRun"))
		Expect(out).To(ContainSubstring("FIELDS:"))
		for _, field := range []string{"command", "container", "execTimeout", "onError", "waitTimeout", "waitForReady", "retries", "retryDelay"} {
			Expect(out).To(MatchRegexp(`(?m)^\s+`+field+`\s+<`), "field %s listed with its type", field)
			desc := crdFieldDescription("spec", "hooks", "resources", "postHooks", "exec", field)
			Expect(desc).NotTo(BeEmpty(), "field %s has a description in the CRD", field)
			Expect(words(out)).To(ContainSubstring(words(desc)), "kubectl explain shows the description of %s", field)
		}
		Expect(words(out)).To(ContainSubstring(words(crdFieldDescription("spec", "hooks", "resources", "postHooks", "exec"))))
	})
})
