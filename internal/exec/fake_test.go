package exec

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
)

func fakeRequest(pod string, command ...string) Request {
	return Request{Namespace: "app", Pod: pod, Container: "db", Command: command, Timeout: time.Minute, RecordOutput: true}
}

func TestFakeRecordsCallsConcurrently(t *testing.T) {
	var f Fake
	const n = 50
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if res := f.Exec(context.Background(), fakeRequest(fmt.Sprintf("pod-%d", i), "true")); !res.Succeeded() {
				t.Errorf("call %d: %+v, want success", i, res)
			}
		})
	}
	wg.Wait()
	calls := f.Calls()
	if len(calls) != n {
		t.Fatalf("Calls() has %d requests, want %d", len(calls), n)
	}
	seen := map[string]bool{}
	for _, c := range calls {
		seen[c.Pod] = true
	}
	if len(seen) != n {
		t.Errorf("Calls() has %d distinct pods, want %d", len(seen), n)
	}
}

func TestFakeRecordsInOrderAndCopies(t *testing.T) {
	var f Fake
	cmd := []string{"echo", "one"}
	f.Exec(context.Background(), fakeRequest("a", cmd...))
	f.Exec(context.Background(), fakeRequest("b", "echo", "two"))
	cmd[1] = "changed"
	calls := f.Calls()
	calls[0].Command[0] = "changed too"

	want := []Request{fakeRequest("a", "echo", "one"), fakeRequest("b", "echo", "two")}
	if diff := cmp.Diff(want, f.Calls()); diff != "" {
		t.Errorf("Calls() mismatch (-want +got):\n%s", diff)
	}
}

func TestFakeResults(t *testing.T) {
	boom := errors.New("connection reset")
	req := fakeRequest("db-0", "pg_isready")

	t.Run("scripted results in order, the last repeats", func(t *testing.T) {
		var f Fake
		f.SetResults(req.Key(), ExitResult(2), ErrorResult(boom), Result{Stdout: "ready"})
		var got []v1alpha1.HookReason
		for range 4 {
			got = append(got, f.Exec(context.Background(), req).Reason())
		}
		want := []v1alpha1.HookReason{v1alpha1.ReasonNonZeroExit, v1alpha1.ReasonExecError, "", ""}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("reasons mismatch (-want +got):\n%s", diff)
		}
		if res := f.Exec(context.Background(), req); res.Stdout != "ready" {
			t.Errorf("Stdout = %q, want %q", res.Stdout, "ready")
		}
	})
	t.Run("script is per key", func(t *testing.T) {
		var f Fake
		f.SetResults(Key("app", "db-0", "db", "pg_isready"), ExitResult(1))
		if res := f.Exec(context.Background(), fakeRequest("db-1", "pg_isready")); !res.Succeeded() {
			t.Errorf("other pod: %+v, want success", res)
		}
		if res := f.Exec(context.Background(), req); res.ExitCode != 1 {
			t.Errorf("scripted pod: %+v, want exit 1", res)
		}
		f.SetResults(req.Key())
		if res := f.Exec(context.Background(), req); !res.Succeeded() {
			t.Errorf("after removing the script: %+v, want success", res)
		}
	})
	t.Run("handler decides unscripted calls", func(t *testing.T) {
		f := Fake{Handler: func(ctx context.Context, r Request) Result {
			if _, ok := ctx.Deadline(); !ok {
				t.Error("handler ctx has no deadline")
			}
			return Result{ExitCode: 7, Err: errors.New("exit 7"), Stdout: r.Pod}
		}}
		res := f.Exec(context.Background(), req)
		if res.ExitCode != 7 || res.Stdout != "db-0" {
			t.Errorf("got %+v, want the handler's result", res)
		}
	})
	t.Run("no output kept without RecordOutput", func(t *testing.T) {
		var f Fake
		quiet := req
		quiet.RecordOutput = false
		f.SetResults(quiet.Key(), Result{Stdout: "secret", Stderr: "secret"})
		if res := f.Exec(context.Background(), quiet); res.Stdout != "" || res.Stderr != "" {
			t.Errorf("got output %q/%q, want none", res.Stdout, res.Stderr)
		}
	})
	t.Run("invalid request", func(t *testing.T) {
		var f Fake
		bad := req
		bad.Timeout = 0
		if res := f.Exec(context.Background(), bad); res.Reason() != v1alpha1.ReasonExecError {
			t.Errorf("got %+v, want ExecError", res)
		}
		if len(f.Calls()) != 1 {
			t.Errorf("invalid request not recorded")
		}
	})
}

func TestFakeBlock(t *testing.T) {
	req := fakeRequest("db-0", "sleep", "10")

	t.Run("held until released", func(t *testing.T) {
		var f Fake
		release := f.Block(req.Key())
		f.SetResults(req.Key(), ExitResult(3))
		done := make(chan Result, 1)
		go func() { done <- f.Exec(context.Background(), req) }()

		waitFor(t, func() bool { return len(f.Calls()) == 1 })
		// An unrelated call is not held.
		if res := f.Exec(context.Background(), fakeRequest("db-1", "sleep", "10")); !res.Succeeded() {
			t.Errorf("unblocked call: %+v", res)
		}
		select {
		case res := <-done:
			t.Fatalf("blocked call returned before release: %+v", res)
		case <-time.After(50 * time.Millisecond):
		}
		release()
		release() // idempotent
		select {
		case res := <-done:
			if res.ExitCode != 3 {
				t.Errorf("got %+v, want the scripted exit 3", res)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("call not released")
		}
		// After release, calls with that key run straight through.
		if res := f.Exec(context.Background(), req); res.ExitCode != 3 {
			t.Errorf("after release: %+v", res)
		}
	})
	t.Run("times out", func(t *testing.T) {
		var f Fake
		defer f.Block(req.Key())()
		short := req
		short.Timeout = 50 * time.Millisecond
		res := f.Exec(context.Background(), short)
		if !res.TimedOut || res.Reason() != v1alpha1.ReasonExecTimeout {
			t.Fatalf("got %+v, want a timeout", res)
		}
		if res.Duration < short.Timeout {
			t.Errorf("Duration %s shorter than the timeout", res.Duration)
		}
	})
	t.Run("ctx cancelled", func(t *testing.T) {
		var f Fake
		defer f.Block(req.Key())()
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(20*time.Millisecond, cancel)
		res := f.Exec(ctx, req)
		if res.TimedOut || res.Reason() != v1alpha1.ReasonExecError || !errors.Is(res.Err, context.Canceled) {
			t.Fatalf("got %+v, want an ExecError wrapping context.Canceled", res)
		}
	})
	t.Run("many held then released together", func(t *testing.T) {
		var f Fake
		release := f.Block(req.Key())
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() {
				if res := f.Exec(context.Background(), req); !res.Succeeded() {
					t.Errorf("got %+v", res)
				}
			})
		}
		waitFor(t, func() bool { return len(f.Calls()) == 10 })
		release()
		wg.Wait()
	})
}

// waitFor polls cond until it holds, failing the test after 10s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
