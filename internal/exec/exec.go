// Package exec runs exec-hook commands inside containers through the pods/exec subresource.
//
// It is one small interface (Executor), a real implementation on client-go's remotecommand
// (RemoteExecutor: WebSocket, falling back to SPDY) and a scriptable fake for tests (Fake).
// Callers classify a Result with Result.Reason, which maps onto the hook reasons of SPEC.md §4.
package exec

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
)

// MaxTail is the most bytes of stdout, and separately of stderr, that a Result keeps.
const MaxTail = 1024

// Request is one command to run in one container.
type Request struct {
	// Namespace and Pod name the pod; Container names the container (empty: the API server's
	// default container, which only works for single-container pods).
	Namespace, Pod, Container string
	// Command is the argv, sent verbatim: no shell, no splitting.
	Command []string
	// Timeout bounds the command; it must be > 0. A command still running then fails with TimedOut.
	Timeout time.Duration
	// RecordOutput false keeps no output at all (Result.Stdout and Result.Stderr stay empty).
	RecordOutput bool
}

// Key identifies the request's target and command: "namespace/pod/container/argv joined by spaces".
// Fake scripts results and blocks by it.
func (r Request) Key() string {
	return Key(r.Namespace, r.Pod, r.Container, r.Command...)
}

// Key builds the key of a Request for that target and command; see Request.Key.
func Key(namespace, pod, container string, command ...string) string {
	return namespace + "/" + pod + "/" + container + "/" + strings.Join(command, " ")
}

func (r Request) validate() error {
	switch {
	case r.Namespace == "" || r.Pod == "":
		return fmt.Errorf("exec request needs a namespace and a pod, got %q/%q", r.Namespace, r.Pod)
	case len(r.Command) == 0:
		return fmt.Errorf("exec request for %s/%s has an empty command", r.Namespace, r.Pod)
	case r.Timeout <= 0:
		return fmt.Errorf("exec request for %s/%s has timeout %s, want > 0", r.Namespace, r.Pod, r.Timeout)
	}
	return nil
}

// clone returns r with its own copy of Command, so a recorded request cannot change under a test.
func (r Request) clone() Request {
	r.Command = append([]string(nil), r.Command...)
	return r
}

// Result is what happened. Exactly one of these holds:
//   - success: Err == nil, ExitCode == 0, !TimedOut;
//   - non-zero exit: ExitCode > 0, Err says "command terminated with exit code N";
//   - timeout: TimedOut, ExitCode -1, Err says "command did not finish within <timeout>";
//   - exec error (transport, API, runtime, or the caller's ctx ended): Err != nil, ExitCode -1; when the
//     exec was refused before its command could start, Refused says why (see Refusal).
//
// Build Results with ExitResult, TimeoutResult, ErrorResult and RefusedResult to keep to these shapes.
type Result struct {
	// ExitCode is the command's exit code; -1 when unknown.
	ExitCode int
	// TimedOut says the command was still running when Request.Timeout passed.
	TimedOut bool
	// Err is nil on success.
	Err error
	// Stdout and Stderr are the tails of the command's output, each at most MaxTail bytes of valid
	// UTF-8. A tail that lost its beginning starts with "…" (counted in the MaxTail bytes); invalid
	// UTF-8 is replaced by U+FFFD. Empty when the request did not ask for output.
	Stdout, Stderr string
	// Duration is how long Exec took, connection set-up included.
	Duration time.Duration
	// Refused is set when the exec failed before its command could start (no protocol upgrade): the
	// command did not run, and the same request may be sent again without running it twice. Nil for
	// every other result, including every failure after the upgrade, which may have started the command.
	Refused *Refusal
}

// ExitResult is the Result of a command that exited with code: success for 0, NonZeroExit otherwise.
func ExitResult(code int) Result {
	if code == 0 {
		return Result{}
	}
	return Result{ExitCode: code, Err: fmt.Errorf("command terminated with exit code %d", code)}
}

// TimeoutResult is the Result of a command still running after timeout.
func TimeoutResult(timeout time.Duration) Result {
	return Result{ExitCode: -1, TimedOut: true, Err: fmt.Errorf("command did not finish within %s", timeout)}
}

// ErrorResult is the Result of an exec that failed for another reason than the command's exit code.
// A nil err is replaced by a generic one, so the Result can never read as a success.
func ErrorResult(err error) Result {
	if err == nil {
		err = errors.New("exec failed for an unknown reason")
	}
	return Result{ExitCode: -1, Err: err}
}

// RefusedResult is the Result of an exec refused before its command could start. err is what the
// client reported; the Result's Err says the refusal first.
func RefusedResult(r Refusal, err error) Result {
	if err == nil {
		err = errors.New("exec refused for an unknown reason")
	}
	return Result{ExitCode: -1, Err: &refusedError{refusal: r, err: err}, Refused: &r}
}

// Reason classifies the Result as a hook reason: "" for success, ReasonExecTimeout,
// ReasonNonZeroExit or ReasonExecError (a refused exec too: whether to send it again is the caller's
// decision, see Result.Refused).
func (r Result) Reason() v1alpha1.HookReason {
	switch {
	case r.TimedOut:
		return v1alpha1.ReasonExecTimeout
	case r.ExitCode > 0:
		return v1alpha1.ReasonNonZeroExit
	case r.Err != nil || r.ExitCode != 0:
		return v1alpha1.ReasonExecError
	default:
		return ""
	}
}

// Succeeded says the command ran and exited 0.
func (r Result) Succeeded() bool { return r.Reason() == "" }

// Executor runs commands in containers.
//
// Exec returns by ctx's deadline or cancellation or by Request.Timeout, whichever comes first,
// and starts no goroutine of its own that outlives it. When ctx ends first the Result is an exec
// error wrapping ctx's error (errors.Is(res.Err, context.Canceled) tells a shutdown apart);
// only Request.Timeout yields TimedOut. Implementations are safe for concurrent use.
type Executor interface {
	Exec(ctx context.Context, req Request) Result
}
