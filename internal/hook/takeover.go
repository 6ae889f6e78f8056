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

package hook

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"

	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
)

// Takeover (SPEC §9). Velero's server runs the annotation exec hook of every pod it restores, reading it
// from the pod its Create call returns, i.e. after admission. The pod webhook therefore moves Velero's
// post.hook.restore.velero.io/* annotations into PostHookAnnotation when a run will execute the hook, so
// Velero finds none and the hook runs once, here. The reconciler reads the hook from either place with
// ExecHookAnnotations, and writes Velero's keys back once the pod's hooks have ended (GiveBack), so a
// later backup of the pod carries the same declaration.
const (
	// ExecAnnotationPrefix is the prefix of Velero's exec hook annotations.
	ExecAnnotationPrefix = "post.hook.restore.velero.io/"

	// PostHookAnnotation holds, as a JSON object, the post.hook.restore.velero.io/* annotations the pod
	// webhook took over, under their original keys and with their original values (malformed ones
	// included: they fail their hook later, with the original key and value in the message).
	PostHookAnnotation = "restorehooks.io/post-hook"

	// PostHookRunAnnotation names, as namespace/name, the RestoreHookRun that took the pod's exec hook
	// over: that run alone executes it and writes Velero's annotations back.
	PostHookRunAnnotation = "restorehooks.io/post-hook-run"

	// HooksDoneAnnotation is set by the write-back to the namespace/name of the run that executed the
	// pod's hooks, so a pod with Velero's keys back is not mistaken for one left to Velero. On a pod
	// being created it can only be a stale copy from a backup: the pod webhook drops it.
	HooksDoneAnnotation = "restorehooks.io/hooks-done"
)

// EncodePostHook renders the value of PostHookAnnotation.
func EncodePostHook(keys map[string]string) string {
	if keys == nil {
		keys = map[string]string{}
	}
	// Marshalling a map[string]string cannot fail; encoding/json sorts the keys, so the value is stable.
	b, _ := json.Marshal(keys)
	return string(b)
}

// DecodePostHook reads the value of PostHookAnnotation: a JSON object of post.hook.restore.velero.io/*
// keys to values. Anything else (another JSON shape, a key without that prefix) is an error naming the
// annotation and its value.
func DecodePostHook(value string) (map[string]string, error) {
	var keys map[string]string
	if err := json.Unmarshal([]byte(value), &keys); err != nil || keys == nil {
		why := "is not a JSON object of " + ExecAnnotationPrefix + "* keys to string values"
		if err != nil {
			why += ": " + err.Error()
		}
		return nil, fmt.Errorf("annotation %s: value %s %s", PostHookAnnotation, quoteValue(value), why)
	}
	for k := range keys {
		if !strings.HasPrefix(k, ExecAnnotationPrefix) {
			return nil, fmt.Errorf("annotation %s: value %s holds key %s, which is not a %s* annotation",
				PostHookAnnotation, quoteValue(value), quoteValue(k), ExecAnnotationPrefix)
		}
	}
	return keys, nil
}

// HasVeleroExecHook reports whether annotations declare an exec hook Velero's server would run: a
// non-empty post.hook.restore.velero.io/command, Velero's own trigger.
func HasVeleroExecHook(annotations map[string]string) bool {
	return annotations[ExecCommandAnnotation] != ""
}

// TakeOver returns a copy of annotations in which every post.hook.restore.velero.io/* key is moved into
// PostHookAnnotation and PostHookRunAnnotation names run (namespace/name). It takes nothing over, and
// returns annotations itself and false, when they declare no exec hook Velero would run.
func TakeOver(annotations map[string]string, run string) (map[string]string, bool) {
	if !HasVeleroExecHook(annotations) {
		return annotations, false
	}
	out := make(map[string]string, len(annotations))
	taken := map[string]string{}
	for k, v := range annotations {
		if strings.HasPrefix(k, ExecAnnotationPrefix) {
			taken[k] = v
			continue
		}
		out[k] = v
	}
	out[PostHookAnnotation] = EncodePostHook(taken)
	out[PostHookRunAnnotation] = run
	return out, true
}

// GiveBack returns a copy of annotations with Velero's exec hook annotations written back from
// PostHookAnnotation and PostHookAnnotation and PostHookRunAnnotation removed: the write-back after a
// taken-over pod's hooks have ended, and the pod webhook's clean-up of a stale mark a pod brought back
// from a backup. Keys of Velero's the pod carries itself win: they are its current declaration, and
// the taken-over copy is then dropped whole rather than mixed in. changed is false, and annotations come
// back as they were, when there is no mark; err is set (and annotations come back as they were) when
// PostHookAnnotation does not decode.
func GiveBack(annotations map[string]string) (_ map[string]string, changed bool, err error) {
	value, marked := annotations[PostHookAnnotation]
	_, named := annotations[PostHookRunAnnotation]
	if !marked && !named {
		return annotations, false, nil
	}
	var keys map[string]string
	if marked {
		if keys, err = DecodePostHook(value); err != nil {
			return annotations, false, err
		}
	}
	out := maps.Clone(annotations)
	delete(out, PostHookAnnotation)
	delete(out, PostHookRunAnnotation)
	for k := range out {
		if strings.HasPrefix(k, ExecAnnotationPrefix) {
			return out, true, nil
		}
	}
	maps.Copy(out, keys)
	return out, true, nil
}

// ExecHookAnnotations returns the annotations to read a pod's annotation exec hook from, so the
// reconciler parses a taken-over hook exactly as Velero's (same keys, defaults and InvalidAnnotation
// messages naming the original key and value): Velero's keys from PostHookAnnotation when the pod
// carries it, otherwise the pod's own annotations. takenOverBy is the PostHookRunAnnotation value ("" if
// the pod was not taken over). problem is set (reason InvalidAnnotation, naming the annotation and its
// value) when PostHookAnnotation does not decode; effective is then nil.
func ExecHookAnnotations(annotations map[string]string) (effective map[string]string, takenOverBy string, problem *Problem) {
	value, marked := annotations[PostHookAnnotation]
	if !marked {
		return annotations, "", nil
	}
	keys, err := DecodePostHook(value)
	if err != nil {
		return nil, annotations[PostHookRunAnnotation], newProblem(v1alpha1.ReasonInvalidAnnotation, "%s", err.Error())
	}
	return keys, annotations[PostHookRunAnnotation], nil
}

// SpecHooksSelect reports whether one of a Velero Restore's own hook specs (Restore.spec.hooks) would
// give the pod an exec hook: its namespaces and label selector match the pod and it has at least one exec
// hook (Velero's GroupRestoreExecHooks, which only consults them for a pod without an annotation exec
// hook). Such a pod must not be taken over: with its annotations stripped, Velero would run the spec
// hooks instead of nothing. A selector that does not parse counts as selecting, the cautious answer
// (Velero fails validation of such a Restore anyway).
func SpecHooksSelect(pod *corev1.Pod, hooks velerov1.RestoreHooks) bool {
	for _, rs := range hooks.Resources {
		hasExec := false
		for _, h := range rs.PostHooks {
			if h.Exec != nil {
				hasExec = true
			}
		}
		if !hasExec || !NamespaceMatches(pod.Namespace, rs.IncludedNamespaces, rs.ExcludedNamespaces) {
			continue
		}
		if rs.LabelSelector == nil {
			return true
		}
		sel, err := metav1.LabelSelectorAsSelector(rs.LabelSelector)
		if err != nil || sel.Matches(labels.Set(pod.Labels)) {
			return true
		}
	}
	return false
}
