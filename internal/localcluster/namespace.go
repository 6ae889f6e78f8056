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
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
)

// DeleteNamespace deletes a namespace and everything in it and waits until it is gone, doing what the
// namespace controller of kube-controller-manager would (envtest runs none, so a deleted namespace would
// stay Terminating forever, and Velero would wait for it while restoring): delete every namespaced
// object in it at once (grace period 0; kwok's pods need no kubelet to stop), wait until none is left,
// delete the namespace and clear its "kubernetes" finalizer through the finalize subresource.
func DeleteNamespace(ctx context.Context, cfg *rest.Config, name string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// Listing every resource type draws deprecation warnings (v1 Endpoints) that say nothing here.
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandler = rest.NoWarnings{}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("deleting namespace %s: %w", name, err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("deleting namespace %s: %w", name, err)
	}
	resources, err := namespacedResources(cs.Discovery())
	if err != nil {
		return fmt.Errorf("deleting namespace %s: %w", name, err)
	}
	// Background propagation, as the namespace controller deletes: dependents go too (here, with no garbage
	// collector, by their own resource's turn in this loop).
	zero := metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0), PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)}
	for _, gvr := range resources {
		err := dyn.Resource(gvr).Namespace(name).DeleteCollection(ctx, zero, metav1.ListOptions{})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsMethodNotSupported(err) {
			return fmt.Errorf("deleting the %s in namespace %s: %w", gvr.GroupResource(), name, err)
		}
	}
	var left []string
	err = wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		left = left[:0]
		for _, gvr := range resources {
			list, err := dyn.Resource(gvr).Namespace(name).List(ctx, metav1.ListOptions{})
			if err != nil {
				if apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) {
					continue
				}
				return false, fmt.Errorf("listing the %s in namespace %s: %w", gvr.GroupResource(), name, err)
			}
			for _, o := range list.Items {
				left = append(left, gvr.Resource+"/"+o.GetName())
			}
		}
		return len(left) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("namespace %s still holds %s: %w", name, strings.Join(left, ", "), err)
	}

	err = cs.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting namespace %s: %w", name, err)
	}
	err = wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		ns, err := cs.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		if len(ns.Spec.Finalizers) > 0 {
			ns.Spec.Finalizers = nil
			if _, err := cs.CoreV1().Namespaces().Finalize(ctx, ns, metav1.UpdateOptions{}); err != nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
				return false, fmt.Errorf("clearing the finalizers of namespace %s: %w", name, err)
			}
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("namespace %s not gone: %w", name, err)
	}
	return nil
}

// namespacedResources lists the namespaced resources that can be listed and deleted by collection, at
// their preferred versions. A group whose discovery fails (an aggregated API that is down) is skipped,
// as the namespace controller skips it.
func namespacedResources(dc discovery.DiscoveryInterface) ([]schema.GroupVersionResource, error) {
	lists, err := dc.ServerPreferredNamespacedResources()
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		return nil, fmt.Errorf("discovering namespaced resources: %w", err)
	}
	var out []schema.GroupVersionResource
	for _, list := range lists {
		gv, perr := schema.ParseGroupVersion(list.GroupVersion)
		if perr != nil {
			return nil, errors.Join(err, fmt.Errorf("discovery: group version %q: %w", list.GroupVersion, perr))
		}
		for _, r := range list.APIResources {
			if strings.Contains(r.Name, "/") || !slices.Contains(r.Verbs, "list") || !slices.Contains(r.Verbs, "deletecollection") {
				continue
			}
			out = append(out, gv.WithResource(r.Name))
		}
	}
	return out, nil
}
