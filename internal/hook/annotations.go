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

// Package hook is the deciding half of the operator: given a pod and a RestoreHookRunSpec it says which
// restore hooks apply, parsed how, in which order, and which init containers to inject. Everything here
// is a pure function of its arguments (no API calls, no clock), so the reconciler and the pod webhook
// can share it and tests can pin every rule of SPEC.md §3, §4 and §6 with tables.
package hook

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
)

// Annotation keys Velero reads from a restored pod (SPEC §3). The operator keeps Velero's keys so pods
// annotated for Velero work unchanged.
const (
	// ExecCommandAnnotation holds the exec hook's command; a non-empty value is what declares the hook.
	ExecCommandAnnotation = "post.hook.restore.velero.io/command"
	// ExecContainerAnnotation names the container the command runs in; default: the pod's first container.
	ExecContainerAnnotation = "post.hook.restore.velero.io/container"
	// ExecOnErrorAnnotation is Continue or Fail (case-sensitive); default Continue.
	ExecOnErrorAnnotation = "post.hook.restore.velero.io/on-error"
	// ExecTimeoutAnnotation is a Go duration bounding the command; default 30s.
	ExecTimeoutAnnotation = "post.hook.restore.velero.io/exec-timeout"
	// ExecWaitTimeoutAnnotation is a Go duration bounding the wait for the container; default the run's maxWait.
	ExecWaitTimeoutAnnotation = "post.hook.restore.velero.io/wait-timeout"
	// ExecWaitForReadyAnnotation (strconv.ParseBool) makes the hook wait for Ready instead of Running.
	ExecWaitForReadyAnnotation = "post.hook.restore.velero.io/wait-for-ready"

	// InitContainerImageAnnotation holds the init container's image; a non-empty value is what declares
	// the init hook.
	InitContainerImageAnnotation = "init.hook.restore.velero.io/container-image"
	// InitContainerNameAnnotation names the injected init container; default DefaultInitContainerName.
	InitContainerNameAnnotation = "init.hook.restore.velero.io/container-name"
	// InitCommandAnnotation holds the init container's command; absent means the image's entrypoint.
	InitCommandAnnotation = "init.hook.restore.velero.io/command"
	// InitTimeoutAnnotation is a Go duration bounding the init container; default the run's maxWait.
	InitTimeoutAnnotation = "init.hook.restore.velero.io/timeout"
)

const (
	// DefaultInitContainerName names an annotation-declared init container without a container-name
	// annotation. Velero generates a random name; a stable one lets injection stay idempotent and lets
	// the reconciler find the container again after a restart.
	DefaultInitContainerName = "restore-hook-init"

	// RestoreWaitContainerName is the init container of Velero's file-system restore. Hook containers go
	// right after it, so they see the restored volume data.
	RestoreWaitContainerName = "restore-wait"

	// InjectedAnnotation is where the pod webhook records, as a JSON array of container names, the init
	// containers it injected, so the reconciler can tell injected hooks from ones that are missing.
	InjectedAnnotation = "restorehooks.io/injected-init-containers"

	// RefusedInitAnnotation is where the pod webhook records, as a JSON object from container name to
	// reason, the init hook containers it refused to inject (they would violate the Pod Security Standard
	// the pod's namespace enforces), so the reconciler records them NotInjected with that reason.
	RefusedInitAnnotation = "restorehooks.io/refused-init-containers"
)

// Defaults of the exec hook fields, as durations (the API package carries them as strings).
const (
	// DefaultExecTimeout bounds a command whose execTimeout is unset or 0 (Velero's 30s).
	DefaultExecTimeout = 30 * time.Second
	// DefaultRetryDelay is the pause between attempts when retryDelay is unset or 0.
	DefaultRetryDelay = 5 * time.Second
	// DefaultMaxWait is the run's maxWait when spec.maxWait is unset or 0.
	DefaultMaxWait = time.Hour
)

const (
	// MaxMessageLen caps every Problem message, the size status records and events allow (SPEC §2, §5).
	MaxMessageLen = 1024
	// maxQuotedValueLen caps how much of an offending annotation value a message repeats, so one huge
	// annotation cannot crowd the reason out of the 1 KiB message.
	maxQuotedValueLen = 200
)

// Problem says why a resolved hook cannot run; the hook is recorded Failed with Reason and Message.
type Problem struct {
	// Reason is the status record's reason, e.g. v1alpha1.ReasonInvalidAnnotation.
	Reason v1alpha1.HookReason
	// Message names the offending field or annotation key and its value; at most MaxMessageLen bytes.
	Message string
}

// newProblem builds a Problem whose message is already within MaxMessageLen, so no caller has to
// remember to truncate before writing status.
func newProblem(reason v1alpha1.HookReason, format string, args ...any) *Problem {
	return &Problem{Reason: reason, Message: truncate(fmt.Sprintf(format, args...), MaxMessageLen)}
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence, marking the cut with "...".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ellipsis = "..."
	cut := n - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}

// quoteValue renders an annotation value for a message: Go-quoted, so control characters and invalid
// UTF-8 stay visible and harmless, and cut to about maxQuotedValueLen bytes with its full length noted.
func quoteValue(v string) string {
	if len(v) <= maxQuotedValueLen {
		return strconv.Quote(v)
	}
	return fmt.Sprintf("%s (truncated, %d bytes)", strconv.Quote(truncate(v, maxQuotedValueLen)), len(v))
}

// ParseCommand turns a command annotation value into an argv the way Velero does: a value whose first
// byte is '[' is a JSON array of strings; any other value is one argv element, verbatim (no shell
// splitting, no trimming, so ` ["a"]` with a leading space is the single element ` ["a"]`).
//
// Unlike Velero, which silently falls back to the whole value as one element, a value that starts with
// '[' but is not a JSON array of strings (including a null element) is an error: it is almost certainly
// a broken array, and running it as a program name would only fail later with a worse message.
// "[]" gives an empty, non-nil argv. The empty value gives nil: there is no command.
func ParseCommand(value string) ([]string, error) {
	if value == "" {
		return nil, nil
	}
	if value[0] != '[' {
		return []string{value}, nil
	}
	// Decoding into pointers tells a null element apart from "", which json would otherwise accept
	// silently for a string.
	var elems []*string
	if err := json.Unmarshal([]byte(value), &elems); err != nil {
		return nil, fmt.Errorf("starts with \"[\" but is not a JSON array of strings: %w", err)
	}
	argv := make([]string, len(elems))
	for i, e := range elems {
		if e == nil {
			return nil, fmt.Errorf("starts with \"[\" but element %d of the JSON array is null, not a string", i)
		}
		argv[i] = *e
	}
	return argv, nil
}

// ExecAnnotation is the exec hook a pod declares with post.hook.restore.velero.io/* annotations, with
// every value parsed and defaulted except the container, which needs the pod (see ResolveExecHooks).
type ExecAnnotation struct {
	// Command is the argv; never empty when the annotation parsed.
	Command []string
	// Container is the container annotation verbatim; "" means the pod's first container.
	Container string
	// OnError is Continue or Fail, never empty.
	OnError v1alpha1.HookErrorMode
	// ExecTimeout is the exec-timeout, or DefaultExecTimeout.
	ExecTimeout time.Duration
	// WaitTimeout is the wait-timeout, or the run's maxWait.
	WaitTimeout time.Duration
	// WaitForReady is the wait-for-ready flag, false by default.
	WaitForReady bool
}

// ParseExecAnnotations reads the exec hook a pod declares through its annotations.
//
// declared is true iff post.hook.restore.velero.io/command is non-empty (Velero's trigger); when it is
// false nothing else is read and the other keys do not matter. When the hook is declared but one of its
// keys is malformed, problem is non-nil (reason InvalidAnnotation) and names every malformed key and its
// value: a broken annotation fails its hook instead of being silently defaulted, as Velero does. Fields
// that did parse keep their values (so an on-error of Fail still applies to a hook with a bad timeout);
// the others keep their defaults.
//
// Empty values count as absent, except for the command: an empty on-error is Continue (Velero treats ""
// as Continue too), an empty exec-timeout is 30s, an empty wait-timeout is maxWait. A 0 duration also
// means the default, as in Velero, rather than "no time at all"; a negative one is malformed.
func ParseExecAnnotations(annotations map[string]string, maxWait time.Duration) (hook ExecAnnotation, declared bool, problem *Problem) {
	rawCommand := annotations[ExecCommandAnnotation]
	if rawCommand == "" {
		return ExecAnnotation{}, false, nil
	}
	hook = ExecAnnotation{
		Container:   annotations[ExecContainerAnnotation],
		OnError:     v1alpha1.HookErrorModeContinue,
		ExecTimeout: DefaultExecTimeout,
		WaitTimeout: maxWait,
	}
	var complaints []string

	command, err := ParseCommand(rawCommand)
	switch {
	case err != nil:
		complaints = append(complaints, annotationComplaint(ExecCommandAnnotation, rawCommand, err.Error()))
	case len(command) == 0:
		complaints = append(complaints, annotationComplaint(ExecCommandAnnotation, rawCommand,
			"command is empty: an exec hook needs at least a program to run"))
	default:
		hook.Command = command
	}

	switch v := annotations[ExecOnErrorAnnotation]; v {
	case "", string(v1alpha1.HookErrorModeContinue):
	case string(v1alpha1.HookErrorModeFail):
		hook.OnError = v1alpha1.HookErrorModeFail
	default:
		complaints = append(complaints, annotationComplaint(ExecOnErrorAnnotation, v,
			"must be exactly Continue or Fail (case-sensitive)"))
	}

	if d, msg := parseAnnotationDuration(annotations, ExecTimeoutAnnotation); msg != "" {
		complaints = append(complaints, msg)
	} else if d > 0 {
		hook.ExecTimeout = d
	}
	if d, msg := parseAnnotationDuration(annotations, ExecWaitTimeoutAnnotation); msg != "" {
		complaints = append(complaints, msg)
	} else if d > 0 {
		hook.WaitTimeout = d
	}

	if v := annotations[ExecWaitForReadyAnnotation]; v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			complaints = append(complaints, annotationComplaint(ExecWaitForReadyAnnotation, v,
				"must be a boolean such as true or false"))
		} else {
			hook.WaitForReady = b
		}
	}

	return hook, true, complaintsProblem(complaints)
}

// InitAnnotation is the init container a pod declares with init.hook.restore.velero.io/* annotations.
type InitAnnotation struct {
	// Image is the container image; never empty when declared.
	Image string
	// Name is the container name, or DefaultInitContainerName.
	Name string
	// Command is the parsed command; nil runs the image's entrypoint.
	Command []string
	// Timeout is the timeout annotation, or the run's maxWait.
	Timeout time.Duration
}

// ParseInitAnnotations reads the init container a pod declares through its annotations.
//
// declared is true iff init.hook.restore.velero.io/container-image is non-empty (Velero's trigger). A
// malformed key of a declared hook gives a non-nil problem (reason InvalidAnnotation) naming every
// malformed key and its value, and such a hook is never injected. Beyond Velero, the name must be a DNS-1123
// label and the image must not have surrounding whitespace: the API server would reject the pod
// otherwise, and the webhook must never be the reason a restored pod cannot be created. An absent or
// empty command (or "[]") runs the image's entrypoint, where Velero panics.
func ParseInitAnnotations(annotations map[string]string, maxWait time.Duration) (hook InitAnnotation, declared bool, problem *Problem) {
	image := annotations[InitContainerImageAnnotation]
	if image == "" {
		return InitAnnotation{}, false, nil
	}
	hook = InitAnnotation{Image: image, Name: DefaultInitContainerName, Timeout: maxWait}
	var complaints []string

	if strings.TrimSpace(image) != image {
		complaints = append(complaints, annotationComplaint(InitContainerImageAnnotation, image,
			"must not have leading or trailing whitespace"))
	}

	if name := annotations[InitContainerNameAnnotation]; name != "" {
		if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
			complaints = append(complaints, annotationComplaint(InitContainerNameAnnotation, name,
				"is not a valid container name: "+strings.Join(errs, "; ")))
		}
		hook.Name = name
	}

	if raw := annotations[InitCommandAnnotation]; raw != "" {
		command, err := ParseCommand(raw)
		if err != nil {
			complaints = append(complaints, annotationComplaint(InitCommandAnnotation, raw, err.Error()))
		} else if len(command) > 0 {
			hook.Command = command
		}
	}

	if d, msg := parseAnnotationDuration(annotations, InitTimeoutAnnotation); msg != "" {
		complaints = append(complaints, msg)
	} else if d > 0 {
		hook.Timeout = d
	}

	return hook, true, complaintsProblem(complaints)
}

// parseAnnotationDuration parses a duration annotation. It returns 0 for an absent, empty or zero
// value (the caller's default applies) and a complaint for an unparsable or negative one.
func parseAnnotationDuration(annotations map[string]string, key string) (time.Duration, string) {
	v := annotations[key]
	if v == "" {
		return 0, ""
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		// The time package's error repeats the whole value; quoteValue repeats it once, bounded.
		return 0, annotationComplaint(key, v, "is not a Go duration such as 30s, 5m or 1h30m")
	}
	if d < 0 {
		return 0, annotationComplaint(key, v, "must not be negative")
	}
	return d, ""
}

func annotationComplaint(key, value, why string) string {
	return fmt.Sprintf("annotation %s: value %s %s", key, quoteValue(value), why)
}

func complaintsProblem(complaints []string) *Problem {
	if len(complaints) == 0 {
		return nil
	}
	return newProblem(v1alpha1.ReasonInvalidAnnotation, "%s", strings.Join(complaints, "; "))
}

// EncodeInjected renders the value of InjectedAnnotation: a JSON array of container names.
func EncodeInjected(names []string) string {
	if names == nil {
		names = []string{}
	}
	// Marshalling a []string cannot fail.
	b, _ := json.Marshal(names)
	return string(b)
}

// DecodeInjected reads the value of InjectedAnnotation. An absent (empty) value is no names.
func DecodeInjected(value string) ([]string, error) {
	if value == "" {
		return nil, nil
	}
	var names []string
	if err := json.Unmarshal([]byte(value), &names); err != nil {
		return nil, fmt.Errorf("annotation %s: value %s is not a JSON array of container names: %w",
			InjectedAnnotation, quoteValue(value), err)
	}
	return names, nil
}

// EncodeRefused renders the value of RefusedInitAnnotation: a JSON object from container name to reason.
func EncodeRefused(reasons map[string]string) string {
	if reasons == nil {
		reasons = map[string]string{}
	}
	// Marshalling a map[string]string cannot fail; encoding/json sorts the keys, so the value is stable.
	b, _ := json.Marshal(reasons)
	return string(b)
}

// DecodeRefused reads the value of RefusedInitAnnotation. An absent (empty) value is no refusals.
func DecodeRefused(value string) (map[string]string, error) {
	if value == "" {
		return nil, nil
	}
	var reasons map[string]string
	if err := json.Unmarshal([]byte(value), &reasons); err != nil {
		return nil, fmt.Errorf("annotation %s: value %s is not a JSON object of container names to reasons: %w",
			RefusedInitAnnotation, quoteValue(value), err)
	}
	return reasons, nil
}

// ResolveMaxWait is the run's maxWait: spec.maxWait, or DefaultMaxWait when it is unset, zero or
// negative (admission rejects negative values; nothing in the operator may wait forever).
func ResolveMaxWait(spec *v1alpha1.RestoreHookRunSpec) time.Duration {
	if spec == nil || spec.MaxWait == nil || spec.MaxWait.Duration <= 0 {
		return DefaultMaxWait
	}
	return spec.MaxWait.Duration
}
