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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Labels and annotations a RestoreHookPolicy puts on the runs it creates.
const (
	// PolicyLabel names the policy that created a run (its value is the policy's name, hashed when over
	// 63 characters as Velero does for label values).
	PolicyLabel = "hooks.restorehooks.io/policy"
	// RestoreUIDLabel holds the UID of the Restore a policy's run was created for: a Restore deleted and
	// created again under its name is another Restore, and gets a run of its own.
	RestoreUIDLabel = "hooks.restorehooks.io/restore-uid"
	// AuthoredByAnnotation records who authored a policy: set by the operator's mutating webhook from the
	// admission request's user on every create and spec change (a value written by anyone else is
	// replaced), and copied onto each run the policy creates, whose author check it stands for.
	AuthoredByAnnotation = "hooks.restorehooks.io/authored-by"
	// DefaultRunsHistoryLimit is how many finished runs a policy keeps when runsHistoryLimit is unset.
	DefaultRunsHistoryLimit = 10
)

// Condition type and reasons of a RestoreHookPolicy.
const (
	// ConditionReady is True while the policy gives matching Restores their runs (or is suspended on
	// purpose), False when its selector or template is invalid or runs cannot be created.
	ConditionReady = "Ready"
	// PolicyReasonActive: the policy creates runs for matching Restores.
	PolicyReasonActive = "Active"
	// PolicyReasonSuspended: spec.suspend is true; no run is created, existing runs are kept.
	PolicyReasonSuspended = "Suspended"
	// PolicyReasonInvalidSelector: spec.restoreSelector cannot be evaluated; no run is created.
	PolicyReasonInvalidSelector = "InvalidSelector"
	// PolicyReasonInvalidTemplate: spec.template would make invalid runs; no run is created.
	PolicyReasonInvalidTemplate = "InvalidTemplate"
	// PolicyReasonRunCreationFailed: creating a run failed (for example its admission was denied).
	PolicyReasonRunCreationFailed = "RunCreationFailed"
)

// RestoreSelector selects Velero Restores. Every criterion given must match; an empty selector matches
// every Restore in the Velero namespace.
// +kubebuilder:validation:XValidation:rule="!has(self.matchExpressions) || self.matchExpressions.all(e, e.operator in ['In', 'NotIn', 'Exists', 'DoesNotExist'])",message="restoreSelector.matchExpressions: operator must be one of In, NotIn, Exists, DoesNotExist"
// +kubebuilder:validation:XValidation:rule="!has(self.matchExpressions) || self.matchExpressions.all(e, (e.operator in ['In', 'NotIn']) == (has(e.values) && size(e.values) > 0))",message="restoreSelector.matchExpressions: In and NotIn need values, Exists and DoesNotExist take none"
type RestoreSelector struct {
	// matchLabels selects Restores whose labels hold every one of these key/value pairs.
	// +optional
	MatchLabels map[string]string `json:"matchLabels,omitempty"`

	// matchExpressions are label selector requirements on the Restore's labels, as in a
	// metav1.LabelSelector; all must hold.
	// +kubebuilder:validation:MaxItems=64
	// +optional
	MatchExpressions []metav1.LabelSelectorRequirement `json:"matchExpressions,omitempty"`

	// backupNames are glob patterns (gobwas/glob, as Velero's namespace filters) on the Restore's
	// spec.backupName; the Restore matches when any pattern does.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=253
	// +optional
	BackupNames []string `json:"backupNames,omitempty"`

	// scheduleNames are glob patterns on the Restore's spec.scheduleName (set by
	// `velero restore create --from-schedule`); the Restore matches when any pattern does. A Restore
	// made from a backup name has no schedule name, and matches no scheduleNames pattern but "*".
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=253
	// +optional
	ScheduleNames []string `json:"scheduleNames,omitempty"`
}

// RestoreHookRunTemplateMetadata is the metadata each run of a policy gets.
type RestoreHookRunTemplateMetadata struct {
	// labels added to each run. The policy's own labels (hooks.restorehooks.io/policy,
	// hooks.restorehooks.io/restore-uid) win over these.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`

	// annotations added to each run. hooks.restorehooks.io/authored-by cannot be set here: the
	// operator records the policy's author there.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// RestoreHookRunTemplateSpec is a RestoreHookRun spec without restoreRef: the policy sets restoreRef
// to the Restore each run is created for.
// +kubebuilder:validation:XValidation:rule="!has(self.restoreRef)",message="spec.template.spec must not set restoreRef: the policy sets each run's restoreRef to the Restore it creates the run for"
type RestoreHookRunTemplateSpec struct {
	// restoreRef must not be set: each run's restoreRef is the Restore it was created for. The field
	// exists so that a template copied from a run is rejected with that explanation instead of being
	// silently pruned.
	// +optional
	RestoreRef *RestoreReference `json:"restoreRef,omitempty"`

	// hooks declares hooks selected by namespace and label selectors, exactly as a RestoreHookRun's
	// spec.hooks (Velero's Restore.spec.hooks shape).
	// +optional
	Hooks RestoreHooks `json:"hooks,omitempty"`

	// podAnnotations says whether hooks declared as pod annotations run: Honor (the default) or Ignore,
	// as in a RestoreHookRun.
	// +kubebuilder:default=Honor
	// +optional
	PodAnnotations PodAnnotationPolicy `json:"podAnnotations,omitempty"`

	// maxWait bounds every wait that has no waitTimeout of its own; a Go duration, default 1h.
	// +kubebuilder:default="1h"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^(0|(([0-9]+(\\\\.[0-9]*)?|\\\\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$')",messageExpression="'must be a non-negative Go duration such as 30s, 5m or 1h30m, got \"' + self + '\"'"
	// +optional
	MaxWait *metav1.Duration `json:"maxWait,omitempty"`

	// maxConcurrentPods caps how many pods have exec hooks running at the same time; 0 means no limit.
	// +kubebuilder:default=0
	// +kubebuilder:validation:Minimum=0
	// +optional
	MaxConcurrentPods int32 `json:"maxConcurrentPods,omitempty"`

	// recordOutput keeps the last 1 KiB of each exec hook's stdout and stderr; defaults to true.
	// +kubebuilder:default=true
	// +optional
	RecordOutput *bool `json:"recordOutput,omitempty"`
}

// RunSpec returns the spec of a run of this template for the Restore ref.
func (t *RestoreHookRunTemplateSpec) RunSpec(ref RestoreReference) RestoreHookRunSpec {
	c := t.DeepCopy()
	return RestoreHookRunSpec{
		RestoreRef: ref, Hooks: c.Hooks, PodAnnotations: c.PodAnnotations, MaxWait: c.MaxWait,
		MaxConcurrentPods: c.MaxConcurrentPods, RecordOutput: c.RecordOutput,
	}
}

// RestoreHookRunTemplate is what each run of a policy is made from.
type RestoreHookRunTemplate struct {
	// metadata holds labels and annotations each run gets.
	// +optional
	Metadata RestoreHookRunTemplateMetadata `json:"metadata,omitempty"`

	// spec is each run's spec, without restoreRef.
	// +optional
	Spec RestoreHookRunTemplateSpec `json:"spec,omitempty"`
}

// RestoreHookPolicySpec declares which Restores get a run, and what that run is.
type RestoreHookPolicySpec struct {
	// restoreSelector selects the Restores, in the operator's Velero namespace, that get a run. Every
	// criterion given must match; empty selects every Restore. Only Restores created after the policy
	// (at the API server's one-second precision, a Restore created in the policy's second included) get
	// a run.
	// +optional
	RestoreSelector RestoreSelector `json:"restoreSelector,omitempty"`

	// template is what each run gets: labels, annotations and a RestoreHookRun spec without restoreRef.
	// +required
	Template RestoreHookRunTemplate `json:"template"`

	// runsHistoryLimit is how many finished runs of this policy are kept; older finished ones are
	// deleted, oldest first. A run that has not finished is never deleted. Defaults to 10.
	// +kubebuilder:default=10
	// +kubebuilder:validation:XValidation:rule="self >= 0 && self <= 1000",message="runsHistoryLimit must be between 0 and 1000 (0 keeps no finished run)"
	// +optional
	RunsHistoryLimit *int32 `json:"runsHistoryLimit,omitempty"`

	// suspend stops the policy from creating runs (and from deleting old ones); runs already created
	// go on. Restores that match and were created after the policy, including while it was suspended,
	// get their run when it is resumed.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// PolicyRunReference describes a run a policy created.
type PolicyRunReference struct {
	// name of the RestoreHookRun, in the policy's namespace.
	Name string `json:"name"`
	// restore is the run's Restore, as namespace/name.
	Restore string `json:"restore"`
	// phase of the run, as last seen.
	// +optional
	Phase RunPhase `json:"phase,omitempty"`
	// time the run was created.
	// +optional
	Time *metav1.Time `json:"time,omitempty"`
}

// PendingRun is a run the policy decided to create and recorded before creating it, so that a crash in
// between makes the next pass create that same run (same name), never a second one.
type PendingRun struct {
	// name the run is created under.
	Name string `json:"name"`
	// restore is the Restore's name.
	Restore string `json:"restore"`
	// restoreUID is the Restore's UID.
	RestoreUID types.UID `json:"restoreUID"`
}

// RestoreHookPolicyStatus is the observed state of a RestoreHookPolicy.
type RestoreHookPolicyStatus struct {
	// observedGeneration is the generation of the spec this status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions hold Ready: True while runs are created for matching Restores (reason Active) or the
	// policy is suspended (reason Suspended); False with reason InvalidSelector, InvalidTemplate or
	// RunCreationFailed, and a message saying what is wrong.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// runsCreated counts the runs this policy has created.
	// +optional
	RunsCreated int32 `json:"runsCreated"`

	// lastRun is the run created most recently, with its phase as last seen.
	// +optional
	LastRun *PolicyRunReference `json:"lastRun,omitempty"`

	// restoresLeftAlone counts the Restores the selector matches that were created before the policy
	// and so get no run.
	// +optional
	RestoresLeftAlone int32 `json:"restoresLeftAlone"`

	// pendingRuns are runs decided and recorded but not seen created yet.
	// +optional
	PendingRuns []PendingRun `json:"pendingRuns,omitempty"`

	// handledRestores are the UIDs of the Restores that got their run, kept while the Restore exists, so
	// that a run deleted (by runsHistoryLimit or by hand) is never created again.
	// +optional
	HandledRestores []types.UID `json:"handledRestores,omitempty"`
}

// RestoreHookPolicy gives every matching Velero Restore created after it exactly one RestoreHookRun made
// from its template: hooks declared once apply to scheduled and scripted restores alike.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=rhp,categories=restorehooks
// +kubebuilder:printcolumn:name="Suspended",type=boolean,JSONPath=`.spec.suspend`
// +kubebuilder:printcolumn:name="Runs",type=integer,JSONPath=`.status.runsCreated`
// +kubebuilder:printcolumn:name="Last Run",type=string,JSONPath=`.status.lastRun.name`
// +kubebuilder:printcolumn:name="Last Phase",type=string,JSONPath=`.status.lastRun.phase`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type RestoreHookPolicy struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec declares which Restores get a run and what the run is.
	// +required
	Spec RestoreHookPolicySpec `json:"spec"`

	// status records the runs created and whether the policy works.
	// +optional
	Status RestoreHookPolicyStatus `json:"status,omitempty"`
}

// RestoreHookPolicyList contains a list of RestoreHookPolicy.
// +kubebuilder:object:root=true
type RestoreHookPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []RestoreHookPolicy `json:"items"`
}
