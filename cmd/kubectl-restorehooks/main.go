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

// Command kubectl-restorehooks is the `kubectl restorehooks` plugin: describe, logs, wait and list for
// RestoreHookRuns (SPEC §11). It uses kubectl's client flags (--kubeconfig, --context, -n, …) through
// k8s.io/cli-runtime, so it talks to whatever cluster kubectl would.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	err := NewRootCommand(streams).ExecuteContext(ctx)
	stop()
	code := ExitCode(err)
	if err != nil && !isSilent(err) {
		fmt.Fprintln(os.Stderr, "error:", err)
	}
	os.Exit(code)
}
