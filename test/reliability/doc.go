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

// Package reliability holds the end-to-end tests of SPEC §5's guarantees under failure: envtest's control
// plane and kwok as in test/e2e, but the operator is the cmd/manager binary run as a separate process, so
// a test can kill -9 it mid-hook, run two replicas under leader election, cut its connections to the API
// server, and probe its health endpoints after hostile input. Hook commands append lines to files, so a
// test reads back exactly which commands were sent, and how many times.
package reliability
