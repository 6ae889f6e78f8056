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
	"net/url"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/rest"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/localcluster"
)

var _ = Describe("Exec transport faults", func() {
	It("records a stream dropped mid-command as ExecError, retries it per retries, and never resends a command otherwise", func() {
		// The operator reaches the API server through a proxy that can cut every connection at once:
		// the exec streams break mid-command, as on a network blip or an API server restart.
		apiserver := cfg.Host
		if !strings.Contains(apiserver, "://") {
			apiserver = "https://" + apiserver
		}
		host, err := url.Parse(apiserver)
		Expect(err).NotTo(HaveOccurred())
		proxy := startProxy(host.Host)
		proxied := rest.CopyConfig(cfg)
		proxied.Host = "https://" + proxy.addr()
		kc := filepath.Join(hookDir(), "kubeconfig")
		Expect(localcluster.WriteKubeconfig(proxied, kc)).To(Succeed())
		m := startManager("proxied", managerFlags{webhooks: true, kubeconfig: kc})

		ns, restore, dir := newNamespace(), newRestore(), hookDir()
		fr, fo := filepath.Join(dir, "retried"), filepath.Join(dir, "once")
		runningPod(restoredPod(ns, "r-0", restore, map[string]string{"app": "r"}, nil, "main"))
		runningPod(restoredPod(ns, "o-0", restore, map[string]string{"app": "o"}, nil, "main"))
		run := newRun(ns, restore,
			hookSpec("retried", map[string]string{"app": "r"},
				withRetries(shellHook("main", "echo start >> "+fr+"; sleep 3"), 1, 500*time.Millisecond)),
			hookSpec("once", map[string]string{"app": "o"}, shellHook("main", "echo start >> "+fo+"; sleep 3")),
		)
		completeRestore(restore)
		Eventually(fileLines(fr)).Should(Equal([]string{"start"}))
		Eventually(fileLines(fo)).Should(Equal([]string{"start"}))

		Expect(proxy.cut()).To(BeNumerically(">=", 2), "the two exec streams, at least, were cut")

		Expect(waitTerminal(run, 45*time.Second)).To(Equal(v1alpha1.RunPhasePartiallyFailed), "records: %v", records(run)())
		Expect(records(run)()).To(ConsistOf("r-0/main:0=Succeeded#2", "o-0/main:0=Failed(ExecError)#1"))
		Expect(record(run, "o-0", "main", 0).Message).NotTo(BeEmpty())
		GinkgoWriter.Printf("dropped stream recorded as: %s\n", record(run, "o-0", "main", 0).Message)
		Expect(record(run, "o-0", "main", 0).ExitCode).To(BeNil(), "a dropped stream has no exit code")
		// Sent twice only where retries allow it; a broken stream is never silently re-sent (e.g. by the
		// WebSocket-to-SPDY fallback).
		Expect(lines(fr)).To(Equal([]string{"start", "start"}))
		Expect(lines(fo)).To(Equal([]string{"start"}))
		expectCountersAddUp(run)
		Consistently(fileLines(fo), 2*time.Second).Should(Equal([]string{"start"}))
		Expect(m.probeOK("/healthz")).To(Succeed())
		Expect(m.probeOK("/readyz")).To(Succeed())
	})
})

var _ = Describe("Deletion", func() {
	It("stops sending a run's commands promptly when the run is deleted mid-run", func() {
		startManager("deletion", managerFlags{webhooks: true})
		ns, restore, dir := newNamespace(), newRestore(), hookDir()
		order := filepath.Join(dir, "order")
		runningPod(restoredPod(ns, "db-0", restore, nil, nil, "main"))
		run := newRun(ns, restore, hookSpec("h", nil,
			shellHook("main", "echo h0 >> "+order+"; sleep 3; echo h0-end >> "+order),
			shellHook("main", "echo h1 >> "+order),
			shellHook("main", "echo h2 >> "+order)))
		Eventually(fileLines(order)).Should(Equal([]string{"h0"}))
		Expect(records(run)()).To(ContainElement("db-0/main:0=Running#1"))

		Expect(k8sClient.Delete(ctx, run)).To(Succeed())
		// h0 would have finished after 3s and h1 started right after: nothing more is sent. The operator
		// closes h0's stream, but pods/exec has no way to signal the command itself: on kwok (as with a
		// kubelet) it runs to its end.
		Consistently(fileLines(order), 5*time.Second).ShouldNot(ContainElement(BeElementOf("h1", "h2")))
		Expect(lines(order)).To(Or(Equal([]string{"h0"}), Equal([]string{"h0", "h0-end"})))
	})
})
