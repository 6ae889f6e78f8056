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

package localcluster

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// PodBinder stands in for kube-scheduler, which envtest does not run: it binds every pod that has no
// node and asks for the default scheduler to one node, through the pods/binding subresource as the
// scheduler does. The test bed needs it because Velero clears a restored pod's spec.nodeName
// (pkg/restore/actions/pod_action.go), so without a scheduler a restored pod stays Pending, Velero's hook
// goroutine waits for its container forever and the Restore never leaves Finalizing. Binding through
// the API keeps the Restore exactly as a user writes it (no resource modifier naming the node).
type PodBinder struct {
	// Node is where pods are bound.
	Node string

	cs     kubernetes.Interface
	cancel context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex
	bound []string
	errs  map[string]error
}

// binderResync re-delivers the pods still unbound, so a bind that failed is tried again.
const binderResync = time.Second

// StartPodBinder starts binding unscheduled pods to node; Stop ends it. It returns once its watch has
// listed the pods that exist.
func StartPodBinder(ctx context.Context, cfg *rest.Config, node string) (*PodBinder, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("pod binder: client: %w", err)
	}
	// Only pods with no node: a bound pod leaves the watch's selector, so the informer holds just the
	// pods still to bind.
	lw := cache.NewFilteredListWatchFromClient(cs.CoreV1().RESTClient(), "pods", metav1.NamespaceAll,
		func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", "").String()
		})
	informer := cache.NewSharedIndexInformer(lw, &corev1.Pod{}, binderResync, cache.Indexers{})
	b := &PodBinder{Node: node, cs: cs, done: make(chan struct{}), errs: map[string]error{}}
	bctx, cancel := context.WithCancel(ctx)
	b.cancel = cancel
	if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { b.bind(bctx, obj) },
		UpdateFunc: func(_, obj any) { b.bind(bctx, obj) },
	}); err != nil {
		cancel()
		return nil, fmt.Errorf("pod binder: %w", err)
	}
	go func() {
		defer close(b.done)
		informer.RunWithContext(bctx)
	}()
	if !cache.WaitForCacheSync(bctx.Done(), informer.HasSynced) {
		b.Stop()
		return nil, fmt.Errorf("pod binder: the pod watch did not sync: %w", ctx.Err())
	}
	return b, nil
}

// schedulable says whether a kube-scheduler would bind the pod: not bound yet, not being deleted, not
// finished, and meant for the default scheduler.
func schedulable(pod *corev1.Pod) bool {
	return pod.Spec.NodeName == "" && pod.DeletionTimestamp == nil &&
		pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed &&
		(pod.Spec.SchedulerName == "" || pod.Spec.SchedulerName == corev1.DefaultSchedulerName)
}

func (b *PodBinder) bind(ctx context.Context, obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok || !schedulable(pod) {
		return
	}
	key := pod.Namespace + "/" + pod.Name
	err := b.cs.CoreV1().Pods(pod.Namespace).Bind(ctx, &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: b.Node},
	}, metav1.CreateOptions{})
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case err == nil:
		b.bound = append(b.bound, key)
		delete(b.errs, key)
		log.FromContext(ctx).V(1).Info("Bound pod", "pod", key, "node", b.Node)
	case apierrors.IsNotFound(err), apierrors.IsConflict(err):
		// Deleted meanwhile, or bound already (a second event for the same pod): nothing to do.
		delete(b.errs, key)
	default:
		// Kept for Err; the informer's resync brings the pod back for another try.
		b.errs[key] = fmt.Errorf("binding pod %s to node %s: %w", key, b.Node, err)
	}
}

// Bound returns the pods this binder bound, "namespace/name", in the order it bound them.
func (b *PodBinder) Bound() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.bound...)
}

// Err returns the binds that failed and have not succeeded since, or nil.
func (b *PodBinder) Err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.errs) == 0 {
		return nil
	}
	errs := make([]error, 0, len(b.errs))
	for _, err := range b.errs {
		errs = append(errs, err)
	}
	return fmt.Errorf("pod binder: %d pods not bound: %w", len(errs), joinSorted(errs))
}

// Stop ends the binder and waits for its watch to stop. Safe to call more than once.
func (b *PodBinder) Stop() {
	b.cancel()
	<-b.done
}
