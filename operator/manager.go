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

// Package manager wires the operator together: the controller-runtime manager, the reconciler, the
// exec client and the webhook server. cmd/manager, the end-to-end tests, the benchmark and
// `make run-local` all start the operator through Run, so they exercise the same code path.
package operator

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/controllers"
	"github.com/restorehooks/restore-hook-operator/internal/exec"
	"github.com/restorehooks/restore-hook-operator/internal/scope"
	opwebhook "github.com/restorehooks/restore-hook-operator/internal/webhook"
)

// Options are the manager's settings; BindFlags exposes them as command-line flags.
type Options struct {
	MetricsAddr          string
	ProbeAddr            string
	LeaderElect          bool
	LeaderElectionID     string
	SecureMetrics        bool
	EnableHTTP2          bool
	WebhookCertPath      string
	WebhookCertName      string
	WebhookCertKey       string
	WebhookPort          int
	WebhookHost          string
	VeleroNamespace      string
	AdminNamespaces      string
	MaxConcurrentExecs   int
	MaxQueuedExecs       int
	MaxConcurrentRuns    int
	StatusWriteInterval  time.Duration
	PprofAddr            string
	LeaderElectNamespace string
	// LeaseDuration, RenewDeadline and RetryPeriod tune leader election (controller-runtime's defaults:
	// 15s, 10s, 2s). A standby takes over at most LeaseDuration after the leader stopped renewing.
	LeaseDuration time.Duration
	RenewDeadline time.Duration
	RetryPeriod   time.Duration

	// Executor replaces the pods/exec client (tests); nil means the real one.
	Executor exec.Executor
	// SkipNameValidation lets one process start managers more than once (tests that restart it).
	SkipNameValidation bool
	// DisableWebhooks runs the reconciler alone (no admission webhooks served).
	DisableWebhooks bool
	// WrapClient, if set, wraps the reconciler's client (tests inject API faults with
	// sigs.k8s.io/controller-runtime/pkg/client/interceptor).
	WrapClient func(client.Client) client.Client
}

// BindFlags registers the flags: kubebuilder v4's standard ones plus the operator's own.
func (o *Options) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.MetricsAddr, "metrics-bind-address", "0",
		"The address the metrics endpoint binds to, e.g. :8443 (HTTPS) or :8080 (HTTP). 0 disables it.")
	fs.StringVar(&o.ProbeAddr, "health-probe-bind-address", ":8081", "The address the probe endpoint binds to.")
	fs.BoolVar(&o.LeaderElect, "leader-elect", false,
		"Enable leader election, so only one manager replica runs hooks at a time.")
	fs.StringVar(&o.LeaderElectionID, "leader-election-id", "restorehooks.io", "The leader election lease name.")
	fs.StringVar(&o.LeaderElectNamespace, "leader-election-namespace", "",
		"The namespace of the leader election lease (default: the manager's own namespace).")
	fs.DurationVar(&o.LeaseDuration, "leader-elect-lease-duration", 15*time.Second,
		"How long a standby waits, after the leader last renewed its lease, before it takes over.")
	fs.DurationVar(&o.RenewDeadline, "leader-elect-renew-deadline", 10*time.Second,
		"How long the leader keeps retrying to renew its lease before it gives up leadership (and exits).")
	fs.DurationVar(&o.RetryPeriod, "leader-elect-retry-period", 2*time.Second,
		"How often leader election clients try to acquire or renew the lease.")
	fs.BoolVar(&o.SecureMetrics, "metrics-secure", true, "Serve metrics over HTTPS with authn/authz.")
	fs.BoolVar(&o.EnableHTTP2, "enable-http2", false, "Enable HTTP/2 for the metrics and webhook servers.")
	fs.StringVar(&o.WebhookCertPath, "webhook-cert-path", "", "The directory holding the webhook certificate.")
	fs.StringVar(&o.WebhookCertName, "webhook-cert-name", "tls.crt", "The webhook certificate file name.")
	fs.StringVar(&o.WebhookCertKey, "webhook-cert-key", "tls.key", "The webhook key file name.")
	fs.IntVar(&o.WebhookPort, "webhook-port", 9443, "The port the webhook server listens on.")
	fs.StringVar(&o.VeleroNamespace, "velero-namespace", "velero",
		"The namespace of Velero's Restores, for runs whose restoreRef has no namespace.")
	fs.StringVar(&o.AdminNamespaces, "admin-namespaces", "",
		"Comma-separated namespaces whose runs may reach pods in any namespace (default: the Velero namespace).")
	fs.IntVar(&o.MaxConcurrentExecs, "max-concurrent-execs", 128,
		"The most exec hook commands running at once across all runs (0: no limit).")
	fs.IntVar(&o.MaxQueuedExecs, "max-queued-execs", 1024,
		"How many more exec hooks may be dispatched (recorded Running) to wait for a free exec stream, so one "+
			"status write starts many hooks. A crash fails them as Interrupted, like the hooks then running.")
	fs.IntVar(&o.MaxConcurrentRuns, "max-concurrent-runs", 4, "Reconcile workers.")
	fs.BoolVar(&o.DisableWebhooks, "disable-webhooks", false,
		"Serve no admission webhooks (init-container hooks then cannot be injected).")
	fs.StringVar(&o.PprofAddr, "pprof-bind-address", "",
		"The address net/http/pprof binds to, e.g. 127.0.0.1:6060, for profiling. Empty disables it.")
	fs.DurationVar(&o.StatusWriteInterval, "status-write-interval", 100*time.Millisecond,
		"The least time between two status writes of one run, so bursts of results coalesce.")
}

// Scheme returns the types the manager works with.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1alpha1.AddToScheme, velerov1.AddToScheme} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}

func (o *Options) adminNamespaces() []string {
	var out []string
	for _, ns := range strings.Split(o.AdminNamespaces, ",") {
		if ns = strings.TrimSpace(ns); ns != "" {
			out = append(out, ns)
		}
	}
	if len(out) == 0 {
		out = []string{o.VeleroNamespace}
	}
	return out
}

// positive returns a pointer to d, or nil (controller-runtime's default) when d is not positive.
func positive(d time.Duration) *time.Duration {
	if d <= 0 {
		return nil
	}
	return &d
}

// +kubebuilder:rbac:groups=authentication.k8s.io,resources=selfsubjectreviews,verbs=create

// operatorUser asks the API server who the operator's client is (a SelfSubjectReview), so the run
// validator can tell the runs the operator creates for a policy from runs a user creates.
func operatorUser(ctx context.Context, cfg *rest.Config) (string, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return "", fmt.Errorf("creating a clientset: %w", err)
	}
	review, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("asking the API server who the operator is (SelfSubjectReview): %w", err)
	}
	if review.Status.UserInfo.Username == "" {
		return "", fmt.Errorf("the API server's SelfSubjectReview named no user for the operator")
	}
	return review.Status.UserInfo.Username, nil
}

// Run starts the manager and blocks until ctx ends.
func Run(ctx context.Context, cfg *rest.Config, o Options) error {
	setupLog := ctrl.Log.WithName("setup")
	var tlsOpts []func(*tls.Config)
	if !o.EnableHTTP2 {
		// HTTP/2 rapid-reset and stream-cancellation CVEs: serve HTTP/1.1 unless asked.
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	webhookOpts := webhook.Options{Port: o.WebhookPort, Host: o.WebhookHost, TLSOpts: tlsOpts}
	if o.WebhookCertPath != "" {
		webhookOpts.CertDir = o.WebhookCertPath
		webhookOpts.CertName = o.WebhookCertName
		webhookOpts.KeyName = o.WebhookCertKey
	}
	metricsOpts := metricsserver.Options{BindAddress: o.MetricsAddr, SecureServing: o.SecureMetrics, TLSOpts: tlsOpts}
	if o.SecureMetrics {
		// Only callers allowed to GET /metrics (TokenReview + SubjectAccessReview) may read them.
		metricsOpts.FilterProvider = metricsAuthFilter
	}

	finishedRuns := &controllers.FinishedRuns{}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        Scheme(),
		Cache:                         controllers.CacheOptions(finishedRuns),
		Metrics:                       metricsOpts,
		WebhookServer:                 webhook.NewServer(webhookOpts),
		HealthProbeBindAddress:        o.ProbeAddr,
		PprofBindAddress:              o.PprofAddr,
		LeaderElection:                o.LeaderElect,
		LeaderElectionID:              o.LeaderElectionID,
		LeaderElectionNamespace:       o.LeaderElectNamespace,
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 positive(o.LeaseDuration),
		RenewDeadline:                 positive(o.RenewDeadline),
		RetryPeriod:                   positive(o.RetryPeriod),
	})
	if err != nil {
		return fmt.Errorf("creating manager: %w", err)
	}

	executor := o.Executor
	if executor == nil {
		remote, err := exec.NewRemoteExecutor(mgr.GetConfig())
		if err != nil {
			return fmt.Errorf("creating the pods/exec client: %w", err)
		}
		executor = remote
	}
	c := mgr.GetClient()
	if o.WrapClient != nil {
		c = o.WrapClient(c)
	}
	rec := &controllers.RestoreHookRunReconciler{
		Client:   c,
		Scheme:   mgr.GetScheme(),
		Recorder: mgr.GetEventRecorder("restore-hook-operator"),
		Exec:     executor,
		// The run cache trims finished runs once this reconciler says none of their execs is in flight.
		FinishedRuns: finishedRuns,
		Options: controllers.Options{
			VeleroNamespace:         o.VeleroNamespace,
			AdminNamespaces:         o.adminNamespaces(),
			MaxConcurrentExecs:      o.MaxConcurrentExecs,
			MaxQueuedExecs:          o.MaxQueuedExecs,
			MaxConcurrentReconciles: o.MaxConcurrentRuns,
			MinWriteInterval:        o.StatusWriteInterval,
			SkipNameValidation:      o.SkipNameValidation,
		},
	}
	if err := rec.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the RestoreHookRun controller: %w", err)
	}
	policies := &controllers.RestoreHookPolicyReconciler{
		Client:    c,
		APIReader: mgr.GetAPIReader(),
		Scheme:    mgr.GetScheme(),
		Recorder:  mgr.GetEventRecorder("restore-hook-operator"),
		Options: controllers.PolicyOptions{
			VeleroNamespace:    o.VeleroNamespace,
			AdminNamespaces:    o.adminNamespaces(),
			SkipNameValidation: o.SkipNameValidation,
		},
	}
	if err := policies.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the RestoreHookPolicy controller: %w", err)
	}
	if !o.DisableWebhooks {
		runScope := scope.New(o.adminNamespaces()...)
		self, err := operatorUser(ctx, mgr.GetConfig())
		if err != nil {
			return err
		}
		authority := &opwebhook.PolicyAuthority{Reader: mgr.GetAPIReader(), OperatorUser: self}
		if err := (&opwebhook.RunValidator{Client: mgr.GetClient(), Scope: runScope, Policies: authority}).SetupWithManager(mgr); err != nil {
			return fmt.Errorf("setting up the RestoreHookRun validating webhook: %w", err)
		}
		if err := (&opwebhook.PolicyValidator{Client: mgr.GetClient(), Scope: runScope}).SetupWithManager(mgr); err != nil {
			return fmt.Errorf("setting up the RestoreHookPolicy webhooks: %w", err)
		}
		mgr.GetWebhookServer().Register(opwebhook.PodMutatorPath, &webhook.Admission{Handler: &opwebhook.PodMutator{
			Reader: mgr.GetClient(), Decoder: admission.NewDecoder(mgr.GetScheme()), Scope: runScope,
			RunIndex: controllers.RunRestoreLabelIndex, VeleroNamespace: o.VeleroNamespace,
		}})
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("adding health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return fmt.Errorf("adding ready check: %w", err)
	}
	setupLog.Info("Starting manager", "veleroNamespace", o.VeleroNamespace, "adminNamespaces", o.adminNamespaces(),
		"certDir", filepath.Clean(o.WebhookCertPath))
	return mgr.Start(ctx)
}
