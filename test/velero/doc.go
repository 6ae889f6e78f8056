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

// Package velero holds the end-to-end tests with Velero itself in the loop: envtest's control plane,
// kwok as the node, Velero's own server (built by 'make velero' from hack/velero) with its AWS plugin on
// an in-process object store, a pod binder standing in for kube-scheduler, and the operator started
// in-process through operator.Run with its webhooks. A test makes a real Backup of a namespace, deletes
// the namespace, makes a real Restore, and reads what ran from the files the hook commands append to
// (kwok runs them as local processes) and from Velero's own Restore status and server log.
//
// Velero's server binds port 8080 whatever its flags say, so this suite runs one server for all its
// specs, and cannot run next to another Velero test bed or 'make run-local' on the same machine.
package velero
