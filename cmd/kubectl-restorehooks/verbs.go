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

package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/describe"
)

func newDescribeCommand(o *rootOptions) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "describe RUN",
		Short: "Show a run's Restore, phase, counters, times and conditions, and one row per hook record",
		Long: `Show a RestoreHookRun: its Restore, phase, counters, times and conditions, then one table row per
hook record (failures first) and the counts of records folded into the counters. -o yaml|json prints the
object as the server returns it.`,
		Example: `  kubectl restorehooks describe -n velero r2-hooks
  kubectl restorehooks describe -n velero r2-hooks -o yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validateOutput(output); err != nil {
				return err
			}
			u, run, err := o.getRun(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if output != "" {
				return printRaw(o.Out, output, u)
			}
			return describe.Describe(o.Out, run, describe.Options{Color: useColour(o.Out), Now: time.Now()})
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}

func newLogsCommand(o *rootOptions) *cobra.Command {
	var filter describe.LogFilter
	cmd := &cobra.Command{
		Use:   "logs RUN [POD]",
		Short: "Print the recorded stdout and stderr tails of a run's hooks",
		Long: `Print the stdout and stderr tails (the last 1 KiB of each) that a RestoreHookRun recorded for its
hooks, each headed by its pod, container and hook. POD is namespace/name, or a name matched in any
namespace. Records folded out of the status to keep it small have no output to show.`,
		Example: `  kubectl restorehooks logs -n velero r2-hooks
  kubectl restorehooks logs -n velero r2-hooks app/db-0 --hook restore-hook-1 --container postgres`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 2 {
				filter.Pod = args[1]
			}
			_, run, err := o.getRun(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			n, err := describe.Logs(o.Out, run, filter)
			if err != nil {
				return err
			}
			if n == 0 {
				return noRecordError(run, filter)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&filter.Hook, "hook", "", "only hooks of this name (a hook spec's name, or <from-annotation>)")
	cmd.Flags().StringVarP(&filter.Container, "container", "c", "", "only hooks of this container")
	return cmd
}

// noRecordError says that nothing matched, and why that may be.
func noRecordError(run *v1alpha1.RestoreHookRun, f describe.LogFilter) error {
	what := "no hook record"
	if f.Pod != "" {
		what += fmt.Sprintf(" for pod %q", f.Pod)
	}
	if f.Hook != "" {
		what += fmt.Sprintf(" of hook %q", f.Hook)
	}
	if f.Container != "" {
		what += fmt.Sprintf(" in container %q", f.Container)
	}
	msg := fmt.Sprintf("restorehookrun %s/%s has %s", run.Namespace, run.Name, what)
	switch {
	case run.Status.HooksOmitted > 0:
		msg += fmt.Sprintf(" (%d finished hooks were folded out of its status to keep it under 1 MiB; their output is not kept)",
			run.Status.HooksOmitted)
	case len(run.Status.Hooks) == 0:
		msg += fmt.Sprintf(" (it has no hook records yet; phase %s)", run.Status.Phase)
	}
	return fmt.Errorf("%s", msg)
}

func newListCommand(o *rootOptions) *cobra.Command {
	var output string
	var allNamespaces bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List runs with their Restore, phase and hook counts",
		Example: `  kubectl restorehooks list -n velero
  kubectl restorehooks list -A`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := validateOutput(output); err != nil {
				return err
			}
			c, err := o.dynamicClient()
			if err != nil {
				return err
			}
			ns := ""
			if !allNamespaces {
				if ns, err = o.namespace(); err != nil {
					return err
				}
			}
			list, err := c.Resource(runsResource).Namespace(ns).List(cmd.Context(), metav1.ListOptions{})
			if err != nil {
				return apiError(err, ns, "")
			}
			if output != "" {
				return printRaw(o.Out, output, list)
			}
			runs := make([]v1alpha1.RestoreHookRun, 0, len(list.Items))
			for i := range list.Items {
				run, err := toRun(&list.Items[i])
				if err != nil {
					return err
				}
				runs = append(runs, *run)
			}
			if len(runs) == 0 {
				// kubectl's wording, on stderr, so a script reading stdout sees nothing.
				if allNamespaces {
					_, err = fmt.Fprintln(o.ErrOut, "No resources found")
				} else {
					_, err = fmt.Fprintf(o.ErrOut, "No resources found in %s namespace.\n", ns)
				}
				return err
			}
			return describe.List(o.Out, runs, describe.ListOptions{AllNamespaces: allNamespaces,
				Options: describe.Options{Color: useColour(o.Out), Now: time.Now()}})
		},
	}
	addOutputFlag(cmd, &output)
	cmd.Flags().BoolVarP(&allNamespaces, "all-namespaces", "A", false, "list runs in every namespace")
	return cmd
}
