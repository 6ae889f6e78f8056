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
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/dynamic"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
)

// runsResource is the RestoreHookRun resource the plugin reads.
var runsResource = schema.GroupVersionResource{Group: v1alpha1.GroupVersion.Group,
	Version: v1alpha1.GroupVersion.Version, Resource: "restorehookruns"}

// exitError carries the process's exit status with the error that caused it. wait uses the statuses
// of SPEC §11 (0 Completed, 1 PartiallyFailed, 2 Failed or missing, 3 timed out); every other error of
// the plugin exits 1, as kubectl's do.
type exitError struct {
	code int
	err  error
	// silent: the command already told the user (wait's outcome lines); main prints nothing more.
	silent bool
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// ExitCode is the process exit status for the error a command returned.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

func isSilent(err error) bool {
	var ee *exitError
	return errors.As(err, &ee) && ee.silent
}

// rootOptions are what every verb shares: kubectl's client flags and the output streams.
type rootOptions struct {
	flags *genericclioptions.ConfigFlags
	genericiooptions.IOStreams
	// client is built from the flags on first use and shared by the command's calls.
	client dynamic.Interface
}

// NewRootCommand builds the `kubectl restorehooks` command tree writing to streams.
func NewRootCommand(streams genericiooptions.IOStreams) *cobra.Command {
	o := &rootOptions{flags: genericclioptions.NewConfigFlags(true), IOStreams: streams}
	root := &cobra.Command{
		Use:   "kubectl-restorehooks",
		Short: "Describe, follow and wait for RestoreHookRuns (Velero restore hooks run by restore-hook-operator)",
		Long: `kubectl restorehooks reads RestoreHookRuns, the record of every Velero restore hook the
restore-hook-operator ran: which hooks ran on which pods, how they ended, and their output.`,
		Annotations: map[string]string{
			// kubectl shows "kubectl restorehooks" in the plugin's usage lines.
			cobra.CommandDisplayNameAnnotation: "kubectl restorehooks",
		},
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	o.flags.AddFlags(root.PersistentFlags())
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	root.AddCommand(newDescribeCommand(o), newLogsCommand(o), newWaitCommand(o), newListCommand(o))
	return root
}

// dynamicClient returns a client for the cluster and namespace the kubectl flags select.
func (o *rootOptions) dynamicClient() (dynamic.Interface, error) {
	if o.client != nil {
		return o.client, nil
	}
	cfg, err := o.flags.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("loading the kubeconfig: %w", err)
	}
	c, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating a client for %s: %w", cfg.Host, err)
	}
	o.client = c
	return c, nil
}

// namespace is -n, else the kubeconfig context's namespace, else default.
func (o *rootOptions) namespace() (string, error) {
	ns, _, err := o.flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return "", fmt.Errorf("reading the namespace from the kubeconfig: %w", err)
	}
	return ns, nil
}

// getRun fetches one run, as the server returns it and as the typed object.
func (o *rootOptions) getRun(ctx context.Context, name string) (*unstructured.Unstructured, *v1alpha1.RestoreHookRun, error) {
	c, err := o.dynamicClient()
	if err != nil {
		return nil, nil, err
	}
	ns, err := o.namespace()
	if err != nil {
		return nil, nil, err
	}
	u, err := c.Resource(runsResource).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, nil, apiError(err, ns, name)
	}
	run, err := toRun(u)
	if err != nil {
		return nil, nil, err
	}
	return u, run, nil
}

// apiError rewrites the two not-found cases a user meets into sentences: the run does not exist, or
// the cluster does not serve RestoreHookRuns at all (the operator's CRD is not installed).
func apiError(err error, ns, name string) error {
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("reading RestoreHookRuns in namespace %q: %w", ns, err)
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		if d := status.Status().Details; d != nil && d.Name != "" && d.Name == name {
			return fmt.Errorf("restorehookrun %q not found in namespace %q", name, ns)
		}
	}
	return fmt.Errorf("the cluster does not serve %s (is restore-hook-operator's CRD installed?): %w",
		runsResource.GroupResource(), err)
}

func toRun(u *unstructured.Unstructured) (*v1alpha1.RestoreHookRun, error) {
	run := &v1alpha1.RestoreHookRun{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, run); err != nil {
		return nil, fmt.Errorf("decoding RestoreHookRun %s/%s: %w", u.GetNamespace(), u.GetName(), err)
	}
	return run, nil
}

// addOutputFlag registers -o, which passes the objects through as YAML or JSON.
func addOutputFlag(cmd *cobra.Command, output *string) {
	cmd.Flags().StringVarP(output, "output", "o", "", "print the object as the server returns it: yaml or json")
}

// printRaw writes obj as YAML or JSON without managedFields, as kubectl get -o does by default.
func printRaw(w io.Writer, output string, obj runtime.Object) error {
	var p printers.ResourcePrinter
	switch output {
	case "yaml":
		p = &printers.YAMLPrinter{}
	case "json":
		p = &printers.JSONPrinter{}
	default:
		return fmt.Errorf("--output %q is not supported: use yaml or json", output)
	}
	switch o := obj.(type) {
	case *unstructured.Unstructured:
		o.SetManagedFields(nil)
	case *unstructured.UnstructuredList:
		for i := range o.Items {
			o.Items[i].SetManagedFields(nil)
		}
	}
	if err := p.PrintObj(obj, w); err != nil {
		return fmt.Errorf("printing as %s: %w", output, err)
	}
	return nil
}

func validateOutput(output string) error {
	if output != "" && output != "yaml" && output != "json" {
		return fmt.Errorf("--output %q is not supported: use yaml or json", output)
	}
	return nil
}

// isTerminal reports whether w is a terminal, where colours and in-place progress make sense.
// NO_COLOR (https://no-color.org) turns colours off but not progress.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd())) //nolint:gosec // a file descriptor fits an int
}

func useColour(w io.Writer) bool {
	return isTerminal(w) && strings.TrimSpace(os.Getenv("NO_COLOR")) == ""
}
