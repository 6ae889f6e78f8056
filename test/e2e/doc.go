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

// Package e2e holds the end-to-end tests: envtest's control plane, kwok as the node that runs pods, and
// the operator started in-process through operator.Run with the real pods/exec client. Hook commands run
// as local processes (kwok's ClusterExec) and append lines to files in a per-test directory, so a test
// reads back what ran and in what order.
package e2e
