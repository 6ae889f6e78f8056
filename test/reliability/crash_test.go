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
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/util/rand"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
)

// crashScenario is a run whose slow hooks a crash interrupts. Pod a-0 runs a0 (fast), a1 (slow, no
// retries), a2 (fast); pod b-0 runs b0 (slow, one retry) and b1 (fast). Every hook appends its name to
// its pod's file when it starts, so the files list every command sent, in order.
type crashScenario struct {
	run    *v1alpha1.RestoreHookRun
	fa, fb string
}

// startCrashScenario creates the scenario and returns once a1 and b0 are executing.
func startCrashScenario() crashScenario {
	GinkgoHelper()
	ns, restore, dir := newNamespace(), newRestore(), hookDir()
	s := crashScenario{fa: filepath.Join(dir, "a"), fb: filepath.Join(dir, "b")}
	runningPod(restoredPod(ns, "a-0", restore, map[string]string{"app": "a"}, nil, "main"))
	runningPod(restoredPod(ns, "b-0", restore, map[string]string{"app": "b"}, nil, "main"))
	s.run = newRun(ns, restore,
		hookSpec("a", map[string]string{"app": "a"},
			shellHook("main", "echo a0 >> "+s.fa),
			shellHook("main", "echo a1 >> "+s.fa+"; sleep 5"),
			shellHook("main", "echo a2 >> "+s.fa)),
		hookSpec("b", map[string]string{"app": "b"},
			withRetries(shellHook("main", "echo b0 >> "+s.fb+"; sleep 5"), 1, 500*time.Millisecond),
			shellHook("main", "echo b1 >> "+s.fb)),
	)
	// The Restore is done creating pods: the run ends once its hooks have.
	completeRestore(restore)
	Eventually(fileLines(s.fa)).Should(Equal([]string{"a0", "a1"}))
	Eventually(fileLines(s.fb)).Should(Equal([]string{"b0"}))
	Expect(records(s.run)()).To(ConsistOf(
		"a-0/main:0=Succeeded#1", "a-0/main:1=Running#1", "a-0/main:2=Pending#0",
		"b-0/main:0=Running#1", "b-0/main:1=Pending#0"))
	return s
}

// expectStillRunning checks that the records of the interrupted hooks stay Running while no operator acts.
func (s crashScenario) expectStillRunning() {
	GinkgoHelper()
	Consistently(records(s.run), 500*time.Millisecond).Should(ContainElements("a-0/main:1=Running#1", "b-0/main:0=Running#1"),
		"a hook is persisted Running before its command is sent, and stays so while no operator runs")
}

// expectRecovered checks the outcome once an operator took over: nothing sent twice that had run,
// the interrupted hooks recorded Interrupted (b0 retried, as its retries allow), the run terminal.
func (s crashScenario) expectRecovered() {
	GinkgoHelper()
	Expect(waitTerminal(s.run, 45*time.Second)).To(Equal(v1alpha1.RunPhasePartiallyFailed), "records: %v", records(s.run)())
	Expect(records(s.run)()).To(ConsistOf(
		"a-0/main:0=Succeeded#1", "a-0/main:1=Failed(Interrupted)#1", "a-0/main:2=Succeeded#1",
		"b-0/main:0=Succeeded#2", "b-0/main:1=Succeeded#1"))
	Expect(record(s.run, "a-0", "main", 1).Message).To(ContainSubstring("not sent again"))
	// The files are the proof: a0 and a1 were sent once, before the crash, and never again; a2 once,
	// after it. b0 was sent a second time only because its retries allow one more attempt.
	Expect(lines(s.fa)).To(Equal([]string{"a0", "a1", "a2"}))
	Expect(lines(s.fb)).To(Equal([]string{"b0", "b0", "b1"}))
	expectCountersAddUp(s.run)
	st := getRun(s.run).Status
	Expect([]int32{st.HooksAttempted, st.HooksSucceeded, st.HooksFailed}).To(Equal([]int32{5, 4, 1}))
	Consistently(fileLines(s.fa), 2*time.Second).Should(Equal([]string{"a0", "a1", "a2"}))
	Expect(lines(s.fb)).To(Equal([]string{"b0", "b0", "b1"}))
}

var _ = Describe("Crash and restart", func() {
	It("kill -9 mid-hook, then a restart: no command sent twice, the in-flight hooks Interrupted, the run completes", func() {
		first := startManager("first", managerFlags{webhooks: true})
		s := startCrashScenario()
		first.kill9()
		s.expectStillRunning()

		second := startManager("second", managerFlags{webhooks: true})
		s.expectRecovered()
		Expect(second.running()).To(BeTrue())
	})

	It("two managers under leader election, the leader killed -9 mid-hook: the standby takes over without sending a command twice", func() {
		id := "reliability-" + rand.String(5)
		leader := startManager("leader", managerFlags{webhooks: true, leaderElectionID: id})
		Eventually(leader.leads, 20*time.Second).Should(BeTrue())
		standby := startManager("standby", managerFlags{leaderElectionID: id})
		Consistently(standby.leads, 500*time.Millisecond).Should(BeFalse())

		s := startCrashScenario()
		Expect(standby.leads()).To(BeFalse(), "the standby must not run hooks while the leader holds the lease")
		killed := time.Now()
		leader.kill9()
		Eventually(standby.leads, 20*time.Second).Should(BeTrue())
		GinkgoWriter.Printf("standby took over %s after the leader was killed\n", time.Since(killed).Round(100*time.Millisecond))
		s.expectRecovered()
		Expect(standby.running()).To(BeTrue())
	})
})
