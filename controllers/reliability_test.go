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
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/controller"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/exec"
	"github.com/restorehooks/restore-hook-operator/operator"
)

// startOperatorWith runs the manager as startOperator does, with adjust applied to its options.
func startOperatorWith(fake *exec.Fake, adjust func(*operator.Options)) *runningOperator {
	octx, cancel := context.WithCancel(ctx)
	op := &runningOperator{fake: fake, cancel: cancel, done: make(chan error, 1)}
	opts := operator.Options{
		MetricsAddr: "0", ProbeAddr: "0", VeleroNamespace: veleroNS, MaxConcurrentExecs: 16,
		MaxConcurrentRuns: 2, StatusWriteInterval: 10 * time.Millisecond, Executor: fake,
		SkipNameValidation: true, DisableWebhooks: true,
	}
	adjust(&opts)
	go func() {
		defer GinkgoRecover()
		op.done <- operator.Run(octx, cfg, opts)
	}()
	return op
}

// faultSeed is the seed of a randomized spec: $FAULT_SEED when set (to replay a failure), else the clock.
func faultSeed() int64 {
	if s := os.Getenv("FAULT_SEED"); s != "" {
		seed, err := strconv.ParseInt(s, 10, 64)
		Expect(err).NotTo(HaveOccurred(), "FAULT_SEED")
		return seed
	}
	return time.Now().UnixNano()
}

// apiFaults injects API errors into the reconciler's client at random, from a seeded source. Reads fail
// only inside a reconcile pass: the cache the manager reads from is in memory and cannot fail
// transiently, but a pass must cope with any error its client returns. Status writes fail in three
// ways: a conflict and a transient server error before the write reaches the API server, and a timeout
// after it was applied (the client cannot tell whether it landed).
type apiFaults struct {
	mu       sync.Mutex
	rng      *rand.Rand
	rate     float64
	on       bool
	injected map[string]int
	// statusWrites counts every status write the reconciler attempted, failed or not.
	statusWrites int
}

func newAPIFaults(seed int64, rate float64) *apiFaults {
	return &apiFaults{rng: rand.New(rand.NewSource(seed)), rate: rate, on: true, injected: map[string]int{}}
}

// roll reports whether to inject a fault now and which of n kinds.
func (f *apiFaults) roll(n int) (bool, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.on || f.rng.Float64() >= f.rate {
		return false, 0
	}
	return true, f.rng.Intn(n)
}

func (f *apiFaults) count(kind string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.injected[kind]++
}

func (f *apiFaults) writes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.statusWrites
}

func (f *apiFaults) stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.on = false
}

func (f *apiFaults) summary() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]int, len(f.injected))
	for k, v := range f.injected {
		out[k] = v
	}
	return out
}

var runsResource = schema.GroupResource{Group: v1alpha1.GroupVersion.Group, Resource: "restorehookruns"}

// transient returns one of the errors a busy or restarting API server answers with.
func transient(kind int) error {
	switch kind {
	case 0:
		return apierrors.NewInternalError(errors.New("injected: etcdserver: leader changed"))
	case 1:
		return apierrors.NewServiceUnavailable("injected: the server is shutting down")
	default:
		return apierrors.NewTooManyRequests("injected: too many requests", 1)
	}
}

func (f *apiFaults) wrap(c client.Client) client.Client {
	return interceptor.NewClient(withoutWatch{c}, interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if controller.ReconcileIDFromContext(ctx) != "" {
				if hit, kind := f.roll(3); hit {
					f.count("get")
					return transient(kind)
				}
			}
			return c.Get(ctx, key, obj, opts...)
		},
		List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			if controller.ReconcileIDFromContext(ctx) != "" {
				if hit, kind := f.roll(3); hit {
					f.count("list")
					return transient(kind)
				}
			}
			return c.List(ctx, list, opts...)
		},
		SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
			f.mu.Lock()
			f.statusWrites++
			f.mu.Unlock()
			hit, kind := f.roll(3)
			if !hit {
				return c.SubResource(sub).Update(ctx, obj, opts...)
			}
			switch kind {
			case 0:
				f.count("status-conflict")
				return apierrors.NewConflict(runsResource, obj.GetName(), errors.New("injected: the object has been modified"))
			case 1:
				f.count("status-error")
				return transient(f.rng.Intn(3))
			default:
				f.count("status-timeout-after-write")
				if err := c.SubResource(sub).Update(ctx, obj, opts...); err != nil {
					return err
				}
				return apierrors.NewTimeoutError("injected: the server was unable to return a response in the time allotted, but may still be processing the request", 1)
			}
		},
	})
}

// withoutWatch lets the interceptor wrap a client.Client; the reconciler never watches through it.
type withoutWatch struct{ client.Client }

func (withoutWatch) Watch(context.Context, client.ObjectList, ...client.ListOption) (watch.Interface, error) {
	return nil, errors.New("watch is not supported by this test client")
}

var _ = Describe("Reliability", func() {
	var ns string
	BeforeEach(func() {
		ensureVeleroNamespace()
		ns = newNamespace("reliability")
	})

	It("loses no record and runs no hook twice when API calls fail at random", func() {
		seed := faultSeed()
		AddReportEntry("fault seed", seed)
		GinkgoWriter.Printf("fault seed %d (FAULT_SEED=%d replays the faults; goroutine timing still varies)\n", seed, seed)
		faults := newAPIFaults(seed, 0.25)
		outcomes := rand.New(rand.NewSource(seed + 1))
		var outcomesMu sync.Mutex
		fake := &exec.Fake{Handler: func(ctx context.Context, req exec.Request) exec.Result {
			outcomesMu.Lock()
			pause, roll := time.Duration(outcomes.Intn(30))*time.Millisecond, outcomes.Intn(10)
			outcomesMu.Unlock()
			select {
			case <-time.After(pause):
			case <-ctx.Done():
				return exec.TimeoutResult(req.Timeout)
			}
			switch roll {
			case 0:
				return exec.ExitResult(2)
			case 1:
				return exec.ErrorResult(io.ErrUnexpectedEOF)
			}
			return exec.Result{Stdout: "ok"}
		}}
		op := startOperatorWith(fake, func(o *operator.Options) { o.WrapClient = faults.wrap })
		DeferCleanup(op.stop)

		restore := newRestore()
		const pods = 20
		retried := execHook("main", "first")
		retried.Retries = ptr.To[int32](1)
		retried.RetryDelay = &metav1.Duration{Duration: 50 * time.Millisecond}
		run := newRun(ns, restore, nil, execSpec("h", retried, execHook("main", "second")))
		// Pods come up one by one, as a restore creates them, so passes and status writes are many.
		for i := range pods {
			p := newPod(ns, fmt.Sprintf("p%02d", i), restore, []string{"main"}, nil)
			setRunning(p, false, "main")
			outcomesMu.Lock()
			pause := time.Duration(outcomes.Intn(60)) * time.Millisecond
			outcomesMu.Unlock()
			time.Sleep(pause)
		}
		setRestorePhase(restore, velerov1.RestorePhaseCompleted)

		Eventually(func() bool { return getRun(run).Status.Phase.IsTerminal() }, 90*time.Second).Should(BeTrue(),
			func() string {
				st := getRun(run).Status
				return fmt.Sprintf("the run never reached a terminal phase (seed %d): phase %s, conditions %+v, records %v",
					seed, st.Phase, st.Conditions, recordPhases(run)())
			})
		faults.stop()
		GinkgoWriter.Printf("faults injected: %v in %d status writes\n", faults.summary(), faults.writes())

		got := getRun(run)
		st := got.Status
		Expect(st.Hooks).To(HaveLen(2*pods), "every hook keeps its record (seed %d)", seed)
		Expect(st.HooksOmitted).To(BeZero())
		Expect(st.HooksAttempted).To(BeEquivalentTo(2 * pods))
		Expect(st.HooksSucceeded+st.HooksFailed+st.HooksSkipped+st.HooksPending).To(Equal(st.HooksAttempted),
			"the counters add up (seed %d)", seed)
		Expect(st.HooksPending).To(BeZero())

		calls := map[string]int{}
		for _, c := range fake.Calls() {
			calls[c.Key()]++
		}
		var phases = map[v1alpha1.HookPhase]int32{}
		for _, r := range st.Hooks {
			phases[r.Phase]++
			Expect(r.Phase.IsFinished()).To(BeTrue(), "record %s %s:%d is %s in a terminal run", r.Pod, r.Container, r.Index, r.Phase)
			cmd := "first"
			allowed := int32(2)
			if r.Index == 1 {
				cmd, allowed = "second", 1
			}
			pod := r.Pod[len(ns)+1:]
			n := calls[exec.Key(ns, pod, "main", cmd)]
			Expect(n).To(BeNumerically("<=", allowed), "%s %s sent %d times, retries allow %d (seed %d)", r.Pod, cmd, n, allowed, seed)
			Expect(int32(n)).To(Equal(r.Attempts), "%s %s: %d execs for %d recorded attempts (seed %d)", r.Pod, cmd, n, r.Attempts, seed)
			Expect(r.Reason).NotTo(Equal(v1alpha1.ReasonInterrupted), "%s %s: no restart happened (seed %d)", r.Pod, cmd, seed)
		}
		Expect(phases[v1alpha1.HookPhaseSucceeded]).To(Equal(st.HooksSucceeded))
		Expect(phases[v1alpha1.HookPhaseFailed]).To(Equal(st.HooksFailed))
		Expect(phases[v1alpha1.HookPhaseSkipped]).To(Equal(st.HooksSkipped))
		want := v1alpha1.RunPhaseCompleted
		if st.HooksFailed > 0 {
			want = v1alpha1.RunPhasePartiallyFailed
		}
		Expect(st.Phase).To(Equal(want))
		Expect(meta.IsStatusConditionTrue(st.Conditions, v1alpha1.ConditionCompleted)).To(BeTrue())

		injected := faults.summary()
		Expect(injected["status-conflict"]+injected["status-error"]+injected["status-timeout-after-write"]).To(
			BeNumerically(">", 0), "no status write failed: the spec proved nothing about them (seed %d)", seed)

		// Nothing more is sent once the run is over.
		total := len(fake.Calls())
		Consistently(func() int { return len(fake.Calls()) }, 500*time.Millisecond).Should(Equal(total))
	})

	It("sends a hook once when the status write that started it timed out after landing", func() {
		// Every write that records a hook Running reaches the API server, then reports a timeout: the
		// reconciler cannot tell whether the hook is persisted Running, and must neither lose it (call it
		// Interrupted without ever sending it) nor send it twice.
		var mu sync.Mutex
		ambiguous := 0
		wrap := func(c client.Client) client.Client {
			return interceptor.NewClient(withoutWatch{c}, interceptor.Funcs{
				SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
					if err := c.SubResource(sub).Update(ctx, obj, opts...); err != nil {
						return err
					}
					for _, r := range obj.(*v1alpha1.RestoreHookRun).Status.Hooks {
						if r.Phase == v1alpha1.HookPhaseRunning {
							mu.Lock()
							ambiguous++
							mu.Unlock()
							return apierrors.NewTimeoutError("injected: the server was unable to return a response in the time allotted, but may still be processing the request", 1)
						}
					}
					return nil
				},
			})
		}
		fake := &exec.Fake{}
		op := startOperatorWith(fake, func(o *operator.Options) { o.WrapClient = wrap })
		DeferCleanup(op.stop)
		restore := newRestore()
		pod := newPod(ns, "db", restore, []string{"main"}, nil)
		setRunning(pod, false, "main")
		run := newRun(ns, restore, nil, execSpec("h", execHook("main", "first"), execHook("main", "second")))

		Eventually(recordPhases(run)).Should(Equal([]string{"db/main:0=Succeeded", "db/main:1=Succeeded"}))
		Expect(callsIn(fake, ns)).To(Equal([]string{"db/main:first", "db/main:second"}))
		for _, r := range getRun(run).Status.Hooks {
			Expect(r.Attempts).To(BeEquivalentTo(1))
		}
		mu.Lock()
		Expect(ambiguous).To(BeNumerically(">=", 2))
		mu.Unlock()
	})

	Describe("exec transport faults", func() {
		var fake *exec.Fake
		BeforeEach(func() {
			fake = &exec.Fake{}
			op := startOperator(fake)
			DeferCleanup(op.stop)
		})

		It("records a stream dropped mid-command as ExecError and retries it per retries", func() {
			restore := newRestore()
			pod := newPod(ns, "db", restore, []string{"main"}, nil)
			dropped := exec.ErrorResult(fmt.Errorf("exec in %s/db container %q: %w", ns, "main",
				errors.New("websocket: close 1006 (abnormal closure): unexpected EOF")))
			fake.SetResults(exec.Key(ns, "db", "main", "retried"), dropped, exec.Result{})
			fake.SetResults(exec.Key(ns, "db", "main", "once"), dropped)
			retried := execHook("main", "retried")
			retried.Retries = ptr.To[int32](1)
			retried.RetryDelay = &metav1.Duration{Duration: 100 * time.Millisecond}
			run := newRun(ns, restore, nil, execSpec("h", retried, execHook("main", "once")))
			setRunning(pod, false, "main")

			Eventually(recordPhases(run), 10*time.Second).Should(Equal([]string{
				"db/main:0=Succeeded", "db/main:1=Failed(ExecError)"}))
			st := getRun(run).Status
			Expect(st.Hooks[0].Attempts).To(BeEquivalentTo(2))
			Expect(st.Hooks[1].Attempts).To(BeEquivalentTo(1))
			Expect(st.Hooks[1].Message).To(ContainSubstring("abnormal closure"))
			Expect(st.Hooks[1].ExitCode).To(BeNil(), "a dropped stream has no exit code")
			Expect(callsIn(fake, ns)).To(Equal([]string{"db/main:retried", "db/main:retried", "db/main:once"}))
		})
	})

	Describe("deletion", func() {
		var (
			fake *exec.Fake
			op   *runningOperator
		)
		BeforeEach(func() {
			fake = &exec.Fake{}
			op = startOperator(fake)
			DeferCleanup(func() { op.stop() })
		})

		It("stops sending commands, and cancels the ones in flight, when the run is deleted mid-run", func() {
			restore := newRestore()
			const pods = 4
			for i := range pods {
				p := newPod(ns, fmt.Sprintf("p%d", i), restore, []string{"main"}, nil)
				setRunning(p, false, "main")
			}
			// Every command blocks until its exec is cancelled (or a minute passes): the reconciler cancels
			// a deleted run's execs.
			var mu sync.Mutex
			cancelled := map[string]error{}
			fake.Handler = func(ctx context.Context, req exec.Request) exec.Result {
				<-ctx.Done()
				mu.Lock()
				cancelled[req.Pod+":"+req.Command[0]] = context.Cause(ctx)
				mu.Unlock()
				return exec.ErrorResult(ctx.Err())
			}
			h := func(cmd string) *v1alpha1.ExecRestoreHook {
				e := execHook("main", cmd)
				e.ExecTimeout = &metav1.Duration{Duration: time.Minute}
				return e
			}
			run := newRun(ns, restore, nil, execSpec("h", h("a"), h("b"), h("c")))
			Eventually(func() []string { return callsIn(fake, ns) }).Should(HaveLen(pods))

			deleted := time.Now()
			Expect(k8sClient.Delete(ctx, run)).To(Succeed())
			Eventually(func() int {
				mu.Lock()
				defer mu.Unlock()
				return len(cancelled)
			}, 5*time.Second).Should(Equal(pods), "every exec in flight is cancelled")
			GinkgoWriter.Printf("execs cancelled %s after the delete\n", time.Since(deleted))
			mu.Lock()
			for k, cause := range cancelled {
				Expect(cause).To(MatchError(context.Canceled), "%s ended by its exec timeout, not by the deletion", k)
			}
			mu.Unlock()
			Consistently(func() []string { return callsIn(fake, ns) }, 2*time.Second).Should(HaveLen(pods),
				"no command is sent for a deleted run")
			sent := callsIn(fake, ns)
			sort.Strings(sent)
			Expect(sent).To(Equal([]string{"p0/main:a", "p1/main:a", "p2/main:a", "p3/main:a"}))
		})

		It("fails the run when the Restore is deleted while a hook runs: the running hook finishes and is recorded, nothing else starts", func() {
			restore := newRestore()
			a := newPod(ns, "a", restore, []string{"main"}, nil)
			newPod(ns, "b", restore, []string{"main"}, nil) // never comes up
			release := fake.Block(exec.Key(ns, "a", "main", "slow"))
			defer release()
			run := newRun(ns, restore, nil, execSpec("h", execHook("main", "slow"), execHook("main", "next")))
			setRunning(a, false, "main")
			Eventually(recordPhases(run)).Should(Equal([]string{
				"a/main:0=Running", "a/main:1=Pending", "b/main:0=Waiting", "b/main:1=Waiting"}))

			Expect(k8sClient.Delete(ctx, restore)).To(Succeed())
			Eventually(recordPhases(run)).Should(Equal([]string{
				"a/main:0=Running", "a/main:1=Skipped(RestoreDeleted)",
				"b/main:0=Skipped(RestoreDeleted)", "b/main:1=Skipped(RestoreDeleted)"}))
			Expect(runPhase(run)()).NotTo(Equal(v1alpha1.RunPhaseFailed), "a run is not over while a hook of it runs")

			release()
			Eventually(runPhase(run)).Should(Equal(v1alpha1.RunPhaseFailed))
			got := getRun(run)
			Expect(recordPhases(run)()).To(Equal([]string{
				"a/main:0=Succeeded", "a/main:1=Skipped(RestoreDeleted)",
				"b/main:0=Skipped(RestoreDeleted)", "b/main:1=Skipped(RestoreDeleted)"}))
			c := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionDegraded)
			Expect(c).NotTo(BeNil())
			Expect(c.Reason).To(Equal(v1alpha1.ConditionReasonRestoreDeleted))
			Expect(c.Message).To(ContainSubstring("Restore was deleted"))
			done := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionCompleted)
			Expect(done.Status).To(Equal(metav1.ConditionTrue))
			Expect(done.Reason).To(Equal(string(v1alpha1.RunPhaseFailed)))
			Expect(got.Status.HooksPending).To(BeZero())
			Expect(callsIn(fake, ns)).To(Equal([]string{"a/main:slow"}))
			Consistently(func() []string { return callsIn(fake, ns) }, 500*time.Millisecond).Should(HaveLen(1))
		})

		It("fails the run when the Restore is deleted while a hook runs and the operator restarts: the hook is Interrupted, not left Running", func() {
			restore := newRestore()
			a := newPod(ns, "a", restore, []string{"main"}, nil)
			release := fake.Block(exec.Key(ns, "a", "main", "slow"))
			defer release()
			run := newRun(ns, restore, nil, execSpec("h", execHook("main", "slow"), execHook("main", "next")))
			setRunning(a, false, "main")
			Eventually(recordPhases(run)).Should(Equal([]string{"a/main:0=Running", "a/main:1=Pending"}))
			Expect(k8sClient.Delete(ctx, restore)).To(Succeed())
			Eventually(recordPhases(run)).Should(Equal([]string{"a/main:0=Running", "a/main:1=Skipped(RestoreDeleted)"}))

			op.stop()
			fake2 := &exec.Fake{}
			op = startOperator(fake2)
			Eventually(runPhase(run)).Should(Equal(v1alpha1.RunPhaseFailed))
			Expect(recordPhases(run)()).To(Equal([]string{"a/main:0=Failed(Interrupted)", "a/main:1=Skipped(RestoreDeleted)"}))
			st := getRun(run).Status
			Expect(st.HooksPending).To(BeZero())
			Expect(st.HooksFailed + st.HooksSkipped).To(Equal(st.HooksAttempted))
			Expect(fake2.Calls()).To(BeEmpty())
		})
	})
})
