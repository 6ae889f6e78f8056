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
	"errors"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/exec"
)

// refusedExec is an exec the API server refused before the command started (SPEC §4, issue 18).
func refusedExec(ns, pod, cause string, status int, retryAfter time.Duration) exec.Result {
	return exec.RefusedResult(exec.Refusal{Cause: cause, StatusCode: status, Transient: true, RetryAfter: retryAfter},
		fmt.Errorf("exec in %s/%s container %q: %w", ns, pod, "main", errors.New("injected refusal")))
}

var _ = Describe("Execs refused before they started", func() {
	var ns string
	BeforeEach(func() {
		ensureVeleroNamespace()
		ns = newNamespace("refused")
	})

	It("sends them again without counting an attempt, and the record says so", func() {
		fake := &exec.Fake{}
		op := startOperator(fake)
		DeferCleanup(op.stop)
		restore := newRestore()
		pod := newPod(ns, "db", restore, []string{"main"}, nil)
		fake.SetResults(exec.Key(ns, "db", "main", "load"),
			refusedExec(ns, "db", "429", 429, 0), refusedExec(ns, "db", "connection reset", 0, 0), exec.Result{})
		run := newRun(ns, restore, nil, execSpec("h", execHook("main", "load")))
		setRunning(pod, false, "main")
		setRestorePhase(restore, "Completed")

		Eventually(runPhase(run), 20*time.Second).Should(Equal(v1alpha1.RunPhaseCompleted))
		rec := getRun(run).Status.Hooks[0]
		Expect(rec.Phase).To(Equal(v1alpha1.HookPhaseSucceeded))
		Expect(rec.Attempts).To(BeEquivalentTo(1))
		Expect(rec.Message).To(Equal("command exited 0; sent 3 times: refused before start (429, connection reset)"))
		Expect(callsIn(fake, ns)).To(Equal([]string{"db/main:load", "db/main:load", "db/main:load"}))
	})

	It("keeps the record Running while it backs off: an operator restart then records it Interrupted, not sent again", func() {
		fake := &exec.Fake{}
		op := startOperator(fake)
		restore := newRestore()
		pod := newPod(ns, "db", restore, []string{"main"}, nil)
		// Refused with a Retry-After far beyond the test: the hook waits to be sent again.
		fake.SetResults(exec.Key(ns, "db", "main", "load"), refusedExec(ns, "db", "503", 503, 5*time.Minute))
		run := newRun(ns, restore, nil, execSpec("h", execHook("main", "load")))
		setRunning(pod, false, "main")
		Eventually(func() int { return len(callsIn(fake, ns)) }).Should(Equal(1))
		Consistently(recordPhases(run), 500*time.Millisecond).Should(Equal([]string{"db/main:0=Running"}))

		op.stop()
		fake2 := &exec.Fake{}
		op = startOperator(fake2)
		DeferCleanup(func() { op.stop() })
		Eventually(recordPhases(run), 20*time.Second).Should(Equal([]string{"db/main:0=Failed(Interrupted)"}))
		Expect(getRun(run).Status.Hooks[0].Attempts).To(BeEquivalentTo(1))
		Expect(fake2.Calls()).To(BeEmpty())
	})
})
