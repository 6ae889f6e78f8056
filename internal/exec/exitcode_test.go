package exec

import (
	"errors"
	"fmt"
	osexec "os/exec"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	utilexec "k8s.io/client-go/util/exec"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
)

func TestExitCode(t *testing.T) {
	// What os/exec returns for a process that exited 4: kwok's exec error is of this kind.
	processErr := osexec.Command("sh", "-c", "exit 4").Run()
	if processErr == nil {
		t.Fatal("sh -c 'exit 4' succeeded")
	}

	type want struct {
		Code int
		OK   bool
	}
	tests := map[string]struct {
		err  error
		want want
	}{
		"nil": {
			err:  nil,
			want: want{},
		},
		"ExitError from the exec status": {
			err:  utilexec.CodeExitError{Err: errors.New("command terminated with exit code 3"), Code: 3},
			want: want{Code: 3, OK: true},
		},
		"wrapped ExitError": {
			err:  fmt.Errorf("stream: %w", utilexec.CodeExitError{Err: errors.New("boom"), Code: 42}),
			want: want{Code: 42, OK: true},
		},
		"ExitError with status 0 is not an exit": {
			err:  utilexec.CodeExitError{Err: errors.New("odd"), Code: 0},
			want: want{},
		},
		"client-go's message as plain text": {
			err:  errors.New("command terminated with exit code 3"),
			want: want{Code: 3, OK: true},
		},
		"kwok: internal error ending in exit status": {
			err:  errors.New("Internal error occurred: error executing command in container: exit status 2"),
			want: want{Code: 2, OK: true},
		},
		"os/exec error of a real process": {
			err:  processErr,
			want: want{Code: 4, OK: true},
		},
		"exit status 255": {
			err:  errors.New("exit status 255"),
			want: want{Code: 255, OK: true},
		},
		"exit status 0 is not trusted": {
			err:  errors.New("exit status 0"),
			want: want{},
		},
		"exit status out of range": {
			err:  errors.New("exit status 99999999999"),
			want: want{},
		},
		"killed by a signal": {
			err:  errors.New("signal: killed"),
			want: want{},
		},
		"transport error": {
			err:  errors.New("dial tcp 127.0.0.1:6443: connect: connection refused"),
			want: want{},
		},
		"upgrade refused": {
			err:  errors.New("unable to upgrade connection: pod does not exist"),
			want: want{},
		},
		"number glued to other text": {
			err:  errors.New("exit status 3x"),
			want: want{},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, ok := exitCode(tc.err)
			if diff := cmp.Diff(tc.want, want{Code: code, OK: ok}); diff != "" {
				t.Errorf("exitCode(%v) mismatch (-want +got):\n%s", tc.err, diff)
			}
		})
	}
}

func TestResultReason(t *testing.T) {
	tests := map[string]struct {
		res  Result
		want v1alpha1.HookReason
	}{
		"zero value is success":      {res: Result{}, want: ""},
		"exit 0 is success":          {res: ExitResult(0), want: ""},
		"non-zero exit":              {res: ExitResult(3), want: v1alpha1.ReasonNonZeroExit},
		"timeout":                    {res: TimeoutResult(time.Second), want: v1alpha1.ReasonExecTimeout},
		"transport error":            {res: ErrorResult(errors.New("connection reset")), want: v1alpha1.ReasonExecError},
		"error without an error":     {res: ErrorResult(nil), want: v1alpha1.ReasonExecError},
		"unknown exit code, no err":  {res: Result{ExitCode: -1}, want: v1alpha1.ReasonExecError},
		"timeout beats a stray code": {res: Result{TimedOut: true, ExitCode: 2}, want: v1alpha1.ReasonExecTimeout},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tc.res.Reason(); got != tc.want {
				t.Errorf("Reason() = %q, want %q", got, tc.want)
			}
			if got := tc.res.Succeeded(); got != (tc.want == "") {
				t.Errorf("Succeeded() = %v, want %v", got, tc.want == "")
			}
		})
	}
	if got, want := TimeoutResult(90*time.Second).Err.Error(), "command did not finish within 1m30s"; got != want {
		t.Errorf("TimeoutResult message = %q, want %q", got, want)
	}
	if got, want := ExitResult(3).Err.Error(), "command terminated with exit code 3"; got != want {
		t.Errorf("ExitResult message = %q, want %q", got, want)
	}
}
