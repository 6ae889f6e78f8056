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

package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Defaults that apply when a hook or a run leaves a value unset.
const (
	// DefaultExecTimeout is how long an exec hook's command may run when execTimeout is unset (Velero: 30s).
	DefaultExecTimeout = "30s"
	// DefaultMaxWait caps every wait that has no waitTimeout of its own (Velero waits forever).
	DefaultMaxWait = "1h"
	// DefaultRetryDelay is the pause between two attempts of a retried exec hook.
	DefaultRetryDelay = "5s"
	// AnnotationHookName is the hook name recorded for hooks declared as pod annotations (Velero's name).
	AnnotationHookName = "<from-annotation>"
)

// HookErrorMode says what a failed hook does to the hooks after it.
// +kubebuilder:validation:Enum=Continue;Fail
type HookErrorMode string

const (
	// HookErrorModeContinue records the failure and lets every other hook go on.
	HookErrorModeContinue HookErrorMode = "Continue"
	// HookErrorModeFail records the failure and skips every hook of the run that has not started yet.
	HookErrorModeFail HookErrorMode = "Fail"
)

// PodAnnotationPolicy says whether hooks declared as pod annotations are run.
// +kubebuilder:validation:Enum=Honor;Ignore
type PodAnnotationPolicy string

const (
	// PodAnnotationsHonor runs annotation hooks, with Velero's precedence over spec hooks.
	PodAnnotationsHonor PodAnnotationPolicy = "Honor"
	// PodAnnotationsIgnore ignores annotation hooks; only spec hooks run.
	PodAnnotationsIgnore PodAnnotationPolicy = "Ignore"
)

// RestoreHookRunSpec declares which Velero Restore to follow and which hooks to run for its pods.
type RestoreHookRunSpec struct {
	// restoreRef names the Velero Restore whose pods this run hooks. The run waits for the Restore to
	// exist, follows its phase, and acts on the pods Velero labels velero.io/restore-name=<name>.
	// +required
	RestoreRef RestoreReference `json:"restoreRef"`

	// hooks declares hooks selected by namespace and label selectors. Its shape is exactly that of
	// Velero's Restore.spec.hooks, so a Restore's hooks block can be pasted here unchanged.
	// +optional
	Hooks RestoreHooks `json:"hooks,omitempty"`

	// podAnnotations says whether hooks declared as pod annotations (post.hook.restore.velero.io/*,
	// init.hook.restore.velero.io/*) run. Honor (the default) keeps Velero's rule: a pod's annotation
	// exec hook replaces the spec exec hooks for that pod, and likewise for init hooks. Ignore runs
	// spec hooks only.
	// +kubebuilder:default=Honor
	// +optional
	PodAnnotations PodAnnotationPolicy `json:"podAnnotations,omitempty"`

	// maxWait bounds every wait that has no waitTimeout of its own: a container that never comes up,
	// an init hook without a timeout, a Restore that never appears. Unlike Velero, nothing waits forever.
	// A Go duration such as 30s, 5m or 1h; defaults to 1h.
	// +kubebuilder:default="1h"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^(0|(([0-9]+(\\\\.[0-9]*)?|\\\\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$')",messageExpression="'must be a non-negative Go duration such as 30s, 5m or 1h30m, got \"' + self + '\"'"
	// +optional
	MaxWait *metav1.Duration `json:"maxWait,omitempty"`

	// maxConcurrentPods caps how many pods have exec hooks running at the same time. 0 means no limit,
	// which is Velero's behaviour.
	// +kubebuilder:default=0
	// +kubebuilder:validation:Minimum=0
	// +optional
	MaxConcurrentPods int32 `json:"maxConcurrentPods,omitempty"`

	// recordOutput keeps the last 1 KiB of each exec hook's stdout and stderr in its status record.
	// false stores no command output at all. Defaults to true.
	// +kubebuilder:default=true
	// +optional
	RecordOutput *bool `json:"recordOutput,omitempty"`
}

// RestoreReference names a Velero Restore.
type RestoreReference struct {
	// name of the Velero Restore.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`

	// namespace of the Velero Restore; defaults to the operator's --velero-namespace.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Namespace string `json:"namespace,omitempty"`
}

// RestoreHooks holds hook specs selected by namespace and labels, in Velero's Restore.spec.hooks shape.
type RestoreHooks struct {
	// resources are the hook specs. Every entry whose selectors match a pod applies to it, in this
	// order, and within an entry in postHooks order.
	// +kubebuilder:validation:MaxItems=256
	// +optional
	Resources []RestoreResourceHookSpec `json:"resources,omitempty"`
}

// RestoreResourceHookSpec selects pods and lists the hooks to run for them.
// +kubebuilder:validation:XValidation:rule="!has(self.includedResources) || size(self.includedResources) == 0 || self.includedResources.exists(r, r in ['*', 'pods', 'pod', 'po'])",message="includedResources does not include pods: restore hooks only ever apply to pods, so this hook spec would never run (list pods, or leave includedResources empty)"
// +kubebuilder:validation:XValidation:rule="!has(self.excludedResources) || !self.excludedResources.exists(r, r in ['*', 'pods', 'pod', 'po'])",message="excludedResources excludes pods: restore hooks only ever apply to pods, so this hook spec would never run (remove pods from excludedResources)"
type RestoreResourceHookSpec struct {
	// name identifies this hook spec in status records, events and metrics.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`

	// includedNamespaces are glob patterns of the pod's namespace (after Velero's namespaceMapping)
	// this spec applies to. Empty or "*" means every namespace the run may touch.
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=253
	// +optional
	IncludedNamespaces []string `json:"includedNamespaces,omitempty"`

	// excludedNamespaces are glob patterns of namespaces this spec does not apply to. Excludes win
	// over includes.
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=253
	// +optional
	ExcludedNamespaces []string `json:"excludedNamespaces,omitempty"`

	// includedResources is accepted for compatibility with Velero's Restore hooks, where it is ignored:
	// hooks always target pods. A list that leaves pods out is rejected, since the spec could never run.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=253
	// +optional
	IncludedResources []string `json:"includedResources,omitempty"`

	// excludedResources is accepted for compatibility with Velero's Restore hooks, where it is ignored.
	// A list that excludes pods is rejected, since the spec could never run.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=253
	// +optional
	ExcludedResources []string `json:"excludedResources,omitempty"`

	// labelSelector selects pods by their labels; unset selects every pod.
	// +optional
	LabelSelector *metav1.LabelSelector `json:"labelSelector,omitempty"`

	// postHooks are the hooks to run for each selected pod, in order. Each entry has exactly one of
	// exec or init.
	// +kubebuilder:validation:MaxItems=64
	// +optional
	PostHooks []RestoreResourceHook `json:"postHooks,omitempty"`

	// dependsOn names other entries of spec.hooks.resources whose exec hooks must all have ended
	// Succeeded before this entry's exec hooks start (not a Velero field). An entry is done once the
	// Restore can no longer create pods and every exec hook of it has ended; until then this entry's exec
	// hooks wait (reason WaitingForDependency), bounded by their waitTimeout or maxWait. If a hook of a
	// dependency ends other than Succeeded, this entry's exec hooks are Skipped (DependencyFailed). Init
	// hooks are not ordered. Unknown names, self-references and cycles are refused at admission.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=253
	// +listType=set
	// +optional
	DependsOn []string `json:"dependsOn,omitempty"`

	// singlePod runs this entry's exec hooks in exactly one of the pods it selects (not a Velero field):
	// the first whose target container comes up, ties broken by namespace/name. If that pod goes away
	// before its first hook started, another is chosen; once a hook has started the choice is final. The
	// other pods get no records for this entry. Init hooks still go to every selected pod.
	// +optional
	SinglePod bool `json:"singlePod,omitempty"`
}

// RestoreResourceHook is one hook: an exec hook or an init-container hook.
// +kubebuilder:validation:XValidation:rule="has(self.exec) != has(self.init)",message="each postHooks entry needs exactly one of exec or init (Velero accepts both in one entry; write them as two entries)"
type RestoreResourceHook struct {
	// exec runs a command in a container of the restored pod once that container is up.
	// +optional
	Exec *ExecRestoreHook `json:"exec,omitempty"`

	// init injects init containers into the restored pod, so they run before its application containers.
	// +optional
	Init *InitRestoreHook `json:"init,omitempty"`
}

// ExecRestoreHook runs a command inside a container of a restored pod through the pods/exec API.
type ExecRestoreHook struct {
	// container to run the command in; defaults to the pod's first container. Native sidecars (init
	// containers with restartPolicy Always) are valid targets. A name the pod does not have fails the
	// hook with reason ContainerNotFound.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Container string `json:"container,omitempty"`

	// command is the argv to execute, passed verbatim (no shell): use ["/bin/sh", "-c", "..."] for
	// shell syntax.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=256
	// +required
	Command []string `json:"command"`

	// onError is what a failure of this hook does: Continue (the default) records it and lets every
	// other hook go on; Fail also skips the pod's remaining hooks and every hook of the run that has not
	// started yet.
	// +optional
	OnError HookErrorMode `json:"onError,omitempty"`

	// execTimeout is how long the command may run before it fails with reason ExecTimeout; defaults to 30s.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^(0|(([0-9]+(\\\\.[0-9]*)?|\\\\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$')",messageExpression="'must be a non-negative Go duration such as 30s, 5m or 1h30m, got \"' + self + '\"'"
	// +optional
	ExecTimeout *metav1.Duration `json:"execTimeout,omitempty"`

	// waitTimeout is how long, from when the operator first sees the pod, the container may take to come
	// up; after that the hook fails with reason WaitTimeout and is not executed. Defaults to the run's
	// maxWait.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^(0|(([0-9]+(\\\\.[0-9]*)?|\\\\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$')",messageExpression="'must be a non-negative Go duration such as 30s, 5m or 1h30m, got \"' + self + '\"'"
	// +optional
	WaitTimeout *metav1.Duration `json:"waitTimeout,omitempty"`

	// waitForReady makes the hooks of this container wait for the container to be Ready instead of
	// Running. It applies per container, to every hook of that container.
	// +optional
	WaitForReady *bool `json:"waitForReady,omitempty"`

	// retries is how many more times a hook that failed with NonZeroExit, ExecTimeout or ExecError is
	// tried; onError applies only to the final failure. Defaults to 0.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +optional
	Retries *int32 `json:"retries,omitempty"`

	// retryDelay is the pause before each retry; defaults to 5s.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^(0|(([0-9]+(\\\\.[0-9]*)?|\\\\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$')",messageExpression="'must be a non-negative Go duration such as 30s, 5m or 1h30m, got \"' + self + '\"'"
	// +optional
	RetryDelay *metav1.Duration `json:"retryDelay,omitempty"`
}

// InitRestoreHook injects init containers into a restored pod.
// +kubebuilder:validation:XValidation:rule="!has(self.initContainers) || self.initContainers.all(c, has(c.image) && size(c.image) > 0)",message="every init container of an init hook needs an image"
type InitRestoreHook struct {
	// initContainers are injected, in this order, first among the pod's init containers (after Velero's
	// restore-wait container). Each needs a name and an image; an empty command runs the image's
	// entrypoint. Names must be unique within the run.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=16
	// +optional
	InitContainers []corev1.Container `json:"initContainers,omitempty"`

	// timeout is how long the injected containers may take to complete, counted from when the operator
	// first sees the pod; after that the hook fails with reason InitTimeout. Defaults to the run's maxWait.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^(0|(([0-9]+(\\\\.[0-9]*)?|\\\\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$')",messageExpression="'must be a non-negative Go duration such as 30s, 5m or 1h30m, got \"' + self + '\"'"
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`
}

// RunPhase is where a RestoreHookRun is in its life.
// +kubebuilder:validation:Enum=Pending;Running;Completed;PartiallyFailed;Failed
type RunPhase string

const (
	// RunPhasePending: the referenced Restore does not exist yet.
	RunPhasePending RunPhase = "Pending"
	// RunPhaseRunning: hooks are outstanding, or the Restore can still create pods.
	RunPhaseRunning RunPhase = "Running"
	// RunPhaseCompleted: every hook succeeded, or none applied.
	RunPhaseCompleted RunPhase = "Completed"
	// RunPhasePartiallyFailed: at least one hook failed or was skipped by a Fail policy.
	RunPhasePartiallyFailed RunPhase = "PartiallyFailed"
	// RunPhaseFailed: the run itself could not proceed (the Restore never appeared, was deleted, or failed
	// with no pods in scope).
	RunPhaseFailed RunPhase = "Failed"
)

// IsTerminal reports whether a run in this phase is finished.
func (p RunPhase) IsTerminal() bool {
	return p == RunPhaseCompleted || p == RunPhasePartiallyFailed || p == RunPhaseFailed
}

// HookPhase is where one hook is in its life.
// +kubebuilder:validation:Enum=Pending;Waiting;Running;Succeeded;Failed;Skipped
type HookPhase string

const (
	// HookPhasePending: the hook applies to the pod and has not started waiting yet.
	HookPhasePending HookPhase = "Pending"
	// HookPhaseWaiting: the hook waits for its container to come up (or for a retry delay).
	HookPhaseWaiting HookPhase = "Waiting"
	// HookPhaseRunning: the command has been (or is about to be) sent; an init container is running.
	HookPhaseRunning HookPhase = "Running"
	// HookPhaseSucceeded: the command exited 0, or the init container terminated with exit code 0.
	HookPhaseSucceeded HookPhase = "Succeeded"
	// HookPhaseFailed: the hook failed; reason says why.
	HookPhaseFailed HookPhase = "Failed"
	// HookPhaseSkipped: the hook was never started here; reason says why (a Fail policy aborted the run, a
	// dependency failed, or the hook is Velero's or another run's to run).
	HookPhaseSkipped HookPhase = "Skipped"
)

// NotOurs reports whether a record is of a hook that someone else runs (Velero's server or another run):
// it counts as skipped, never as attempted or failed.
func (r *HookRecord) NotOurs() bool {
	return r.Phase == HookPhaseSkipped && (r.Reason == ReasonRunByVelero || r.Reason == ReasonAlreadyRun)
}

// IsFinished reports whether a hook in this phase will never change again.
func (p HookPhase) IsFinished() bool {
	return p == HookPhaseSucceeded || p == HookPhaseFailed || p == HookPhaseSkipped
}

// HookSource says where a hook was declared.
// +kubebuilder:validation:Enum=Spec;Annotation
type HookSource string

const (
	// HookSourceSpec: declared in spec.hooks.resources.
	HookSourceSpec HookSource = "Spec"
	// HookSourceAnnotation: declared as pod annotations.
	HookSourceAnnotation HookSource = "Annotation"
)

// HookType says what kind of hook a record is about.
// +kubebuilder:validation:Enum=Exec;Init
type HookType string

const (
	// HookTypeExec: a command run in a container through pods/exec.
	HookTypeExec HookType = "Exec"
	// HookTypeInit: an init container injected into the pod.
	HookTypeInit HookType = "Init"
)

// HookReason says why a hook ended the way it did.
type HookReason string

// Hook reasons. A Succeeded hook has none.
const (
	// ReasonNonZeroExit: the command, or the init container, exited with a non-zero code.
	ReasonNonZeroExit HookReason = "NonZeroExit"
	// ReasonExecTimeout: the command was still running after execTimeout.
	ReasonExecTimeout HookReason = "ExecTimeout"
	// ReasonWaitTimeout: the container did not come up within waitTimeout (or maxWait); not executed.
	ReasonWaitTimeout HookReason = "WaitTimeout"
	// ReasonContainerNotFound: the pod has no container of the hook's name.
	ReasonContainerNotFound HookReason = "ContainerNotFound"
	// ReasonPodTerminated: the pod reached Succeeded or Failed before the hook ran.
	ReasonPodTerminated HookReason = "PodTerminated"
	// ReasonPodDeleted: the pod was deleted before the hook ran.
	ReasonPodDeleted HookReason = "PodDeleted"
	// ReasonInvalidAnnotation: a hook annotation's value could not be parsed; the message names it.
	ReasonInvalidAnnotation HookReason = "InvalidAnnotation"
	// ReasonAbortedByFailPolicy: skipped because a hook with onError Fail failed.
	ReasonAbortedByFailPolicy HookReason = "AbortedByFailPolicy"
	// ReasonInterrupted: the operator restarted while the command was in flight; it may have run partly.
	ReasonInterrupted HookReason = "Interrupted"
	// ReasonExecError: the exec call itself failed (transport, API or container runtime error).
	ReasonExecError HookReason = "ExecError"
	// ReasonInitTimeout: the init container had not completed within its timeout (or maxWait).
	ReasonInitTimeout HookReason = "InitTimeout"
	// ReasonNotInjected: a pod in scope was created without the init container it should have.
	ReasonNotInjected HookReason = "NotInjected"
	// ReasonForbidden: the pod is in a namespace this run may not touch.
	ReasonForbidden HookReason = "Forbidden"
	// ReasonHookRemoved: the hook was no longer declared (the run's spec or the pod's annotations changed)
	// before it started.
	ReasonHookRemoved HookReason = "HookRemoved"
	// ReasonRestoreDeleted: the Restore was deleted before the hook started.
	ReasonRestoreDeleted HookReason = "RestoreDeleted"
	// ReasonRunByVelero: the pod still carries Velero's annotation exec hook without this operator's
	// takeover mark (no run covered it when it was created, the pod webhook was unreachable, or a
	// Restore.spec.hooks entry selects the pod), so Velero's server runs it; it is never run here. Counted
	// as skipped, not attempted, and never a failure.
	ReasonRunByVelero HookReason = "RunByVelero"
	// ReasonAlreadyRun: another RestoreHookRun took this annotation hook over, or already ran it (the pod
	// says which); it is not run again here. Counted as skipped, not attempted, and never a failure.
	ReasonAlreadyRun HookReason = "AlreadyRun"
	// ReasonWaitingForDependency: the hook is Waiting for an entry named in its entry's dependsOn to be
	// done; the message names it.
	ReasonWaitingForDependency HookReason = "WaitingForDependency"
	// ReasonDependencyFailed: skipped because a hook of an entry named in dependsOn ended other than
	// Succeeded; the message names the entry and the hook.
	ReasonDependencyFailed HookReason = "DependencyFailed"
	// ReasonInitContainerNameClash: the init hook's container was not injected because the pod already has
	// an init container of that name that is not the hook's (the webhook did not inject it and it runs
	// another image, command or args); the message names the pod's container. Rename the hook's container.
	ReasonInitContainerNameClash HookReason = "InitContainerNameClash"
)

// Condition types of a RestoreHookRun.
const (
	// ConditionCompleted is True once the run is in a terminal phase; its reason is that phase.
	ConditionCompleted = "Completed"
	// ConditionDegraded is True while any hook of the run has failed.
	ConditionDegraded = "Degraded"
)

// Condition reasons of a RestoreHookRun, besides the terminal phases used as Completed reasons.
const (
	// ConditionReasonInProgress: the run is not finished yet.
	ConditionReasonInProgress = "InProgress"
	// ConditionVeleroSpecHooks is True when the Restore has hook specs of its own (Restore.spec.hooks):
	// Velero's server runs those, and this run neither runs nor tracks them.
	ConditionVeleroSpecHooks = "VeleroSpecHooks"
	// ConditionReasonNotTracked is the reason of ConditionVeleroSpecHooks.
	ConditionReasonNotTracked = "NotTracked"
	// ConditionReasonNoFailures: no hook has failed.
	ConditionReasonNoFailures = "NoFailures"
	// ConditionReasonHooksFailed: at least one hook failed or was skipped.
	ConditionReasonHooksFailed = "HooksFailed"
	// ConditionReasonRestoreNotFound: the Restore did not appear within maxWait.
	ConditionReasonRestoreNotFound = "RestoreNotFound"
	// ConditionReasonRestoreDeleted: the Restore was deleted while the run was in progress.
	ConditionReasonRestoreDeleted = "RestoreDeleted"
	// ConditionReasonRestoreFailed: the Restore failed (or failed validation) with no pods in scope.
	ConditionReasonRestoreFailed = "RestoreFailed"
)

// HookRecord is the durable record of one hook on one pod: one per (pod, container, hook).
type HookRecord struct {
	// pod is the pod as namespace/name.
	Pod string `json:"pod"`
	// podUID identifies the pod instance the hook belongs to.
	// +optional
	PodUID types.UID `json:"podUID,omitempty"`
	// container is the container the command runs in (exec) or the injected init container's name (init).
	// +optional
	Container string `json:"container,omitempty"`
	// hook is the hook spec's name, or <from-annotation>.
	Hook string `json:"hook"`
	// resourceIndex is the position of the hook spec in spec.hooks.resources (0 for annotation hooks);
	// with index it tells apart two hook specs that share a name.
	// +optional
	ResourceIndex int32 `json:"resourceIndex,omitempty"`
	// index is the hook's position within its spec's postHooks (0 for annotation hooks).
	// +optional
	Index int32 `json:"index,omitempty"`
	// source is where the hook was declared: Spec or Annotation.
	Source HookSource `json:"source"`
	// type is Exec or Init.
	Type HookType `json:"type"`
	// onError is the exec hook's error mode when it is Fail (Continue is left out): kept with the record so
	// that a Fail hook whose pod is gone still aborts the run.
	// +optional
	OnError HookErrorMode `json:"onError,omitempty"`
	// singlePod marks the hook of a singlePod entry in the pod chosen for it; such records are never folded
	// out of the status, since they are what tells a restarted operator which pod was chosen.
	// +optional
	SinglePod bool `json:"singlePod,omitempty"`
	// phase is Pending, Waiting, Running, Succeeded, Failed or Skipped.
	Phase HookPhase `json:"phase"`
	// reason says why the hook failed or was skipped.
	// +optional
	Reason HookReason `json:"reason,omitempty"`
	// attempts counts how many times the command was sent (for init hooks: container restarts + 1).
	// +optional
	Attempts int32 `json:"attempts,omitempty"`
	// startTime is when the first attempt started.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// completionTime is when the hook reached Succeeded, Failed or Skipped.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// nextAttemptTime is when a hook waiting to be retried may be tried again.
	// +optional
	NextAttemptTime *metav1.Time `json:"nextAttemptTime,omitempty"`
	// exitCode of the last attempt, when the command or init container exited.
	// +optional
	ExitCode *int32 `json:"exitCode,omitempty"`
	// message explains the outcome in a sentence (at most 1 KiB).
	// +optional
	Message string `json:"message,omitempty"`
	// stdout is the tail (at most 1 KiB) of the last attempt's standard output, when recordOutput is true.
	// +optional
	Stdout string `json:"stdout,omitempty"`
	// stderr is the tail (at most 1 KiB) of the last attempt's standard error, when recordOutput is true.
	// +optional
	Stderr string `json:"stderr,omitempty"`
}

// RestoreHookRunStatus is the observed state of a RestoreHookRun.
type RestoreHookRunStatus struct {
	// observedGeneration is the generation of the spec this status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// phase is Pending, Running, Completed, PartiallyFailed or Failed.
	// +optional
	Phase RunPhase `json:"phase,omitempty"`

	// restorePhase is the Velero Restore's phase, as last seen.
	// +optional
	RestorePhase string `json:"restorePhase,omitempty"`

	// startTime is when the run started following its Restore.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// completionTime is when the run reached a terminal phase.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`

	// hooksAttempted counts hooks that applied to a pod in scope, init and exec (Velero's meaning).
	// +optional
	HooksAttempted int32 `json:"hooksAttempted"`

	// hooksFailed counts hooks that ended Failed (Velero's meaning).
	// +optional
	HooksFailed int32 `json:"hooksFailed"`

	// hooksSucceeded counts hooks that ended Succeeded.
	// +optional
	HooksSucceeded int32 `json:"hooksSucceeded"`

	// hooksSkipped counts hooks skipped by a Fail policy.
	// +optional
	HooksSkipped int32 `json:"hooksSkipped"`

	// hooksPending counts hooks not finished yet (Pending, Waiting or Running).
	// +optional
	HooksPending int32 `json:"hooksPending"`

	// hooksOmitted counts finished hooks whose records were folded into the counters to keep the status
	// under 1 MiB: Succeeded ones first; Failed and Skipped ones only as a last resort.
	// +optional
	HooksOmitted int32 `json:"hooksOmitted,omitempty"`

	// hooksOmittedFailed counts, among hooksOmitted, hooks that ended Failed. Failed records are only
	// ever omitted when thousands of failures could not fit in the status otherwise; events and metrics
	// still report each of them.
	// +optional
	HooksOmittedFailed int32 `json:"hooksOmittedFailed,omitempty"`

	// hooksOmittedSkipped counts, among hooksOmitted, hooks that ended Skipped.
	// +optional
	HooksOmittedSkipped int32 `json:"hooksOmittedSkipped,omitempty"`

	// foldedPods are the UIDs of pods whose hooks had all finished and whose records were omitted, so a
	// restarted operator still knows they ran.
	// +optional
	FoldedPods []types.UID `json:"foldedPods,omitempty"`

	// abortedBy names the hook whose failure under onError Fail aborted the run: every hook not started
	// by then, in any pod, is Skipped with reason AbortedByFailPolicy.
	// +optional
	AbortedBy string `json:"abortedBy,omitempty"`

	// podsInScope counts the pods labelled as restored by the Restore that this run may touch.
	// +optional
	PodsInScope int32 `json:"podsInScope,omitempty"`

	// summary is "succeeded/total" hooks, for the HOOKS column.
	// +optional
	Summary string `json:"summary,omitempty"`

	// conditions are Completed (True once terminal; reason = the terminal phase) and Degraded (True
	// while any hook has failed).
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// hooks holds one record per (pod, container, hook).
	// +optional
	Hooks []HookRecord `json:"hooks,omitempty"`
}

// RestoreHookRun runs the restore hooks of one Velero Restore and records every hook's outcome.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=rhr,categories=restorehooks
// Once a run has left Pending, what decides which hooks run is fixed: records are keyed by a hook's place
// in spec.hooks, so an edit could give a finished hook a new key and run it again.
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.status) || !has(oldSelf.status.phase) || oldSelf.status.phase == 'Pending' || (self.spec.restoreRef == oldSelf.spec.restoreRef && (has(self.spec.podAnnotations) ? self.spec.podAnnotations : 'Honor') == (has(oldSelf.spec.podAnnotations) ? oldSelf.spec.podAnnotations : 'Honor') && has(self.spec.hooks) == has(oldSelf.spec.hooks) && (!has(self.spec.hooks) || self.spec.hooks == oldSelf.spec.hooks))",message="spec.hooks, spec.restoreRef and spec.podAnnotations cannot change once the run has started (hook records are keyed by each hook's place in spec.hooks, so an edit could run a finished hook again): create a new RestoreHookRun instead"
// +kubebuilder:printcolumn:name="Restore",type=string,JSONPath=`.spec.restoreRef.name`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Hooks",type=string,JSONPath=`.status.summary`,description="succeeded/total hooks"
// +kubebuilder:printcolumn:name="Failed",type=integer,JSONPath=`.status.hooksFailed`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type RestoreHookRun struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec declares the Restore to follow and the hooks to run.
	// +required
	Spec RestoreHookRunSpec `json:"spec"`

	// status records the run's phase and every hook's outcome.
	// +optional
	Status RestoreHookRunStatus `json:"status,omitempty"`
}

// RestoreHookRunList contains a list of RestoreHookRun.
// +kubebuilder:object:root=true
type RestoreHookRunList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []RestoreHookRun `json:"items"`
}
