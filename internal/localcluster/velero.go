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

// Velero's own server in the test bed: `velero server` as a child process against the local API server,
// with Velero's AWS object-store plugin pointed at an in-process S3 (ObjectStore), so a test makes a real
// Backup and a real Restore and Velero runs its own restore hooks.
//
// What Velero v1.18.3 needs here, found by running it against envtest's kube-apiserver 1.36 (see
// ../shared/reference/real-velero.md for the citations into Velero's source):
//
//   - All 13 of its CRDs (config/crd/v1/bases and config/crd/v2alpha1/bases in its module directory): the
//     server checks them by discovery at start and exits when one is missing.
//   - Its namespace, before it starts.
//   - A Deployment "velero" in that namespace: the velero.io/pod-volume-restore action, which applies to
//     every pod, reads it for the server's image, and without it every restored pod fails. Nothing runs it
//     (replicas 0, and there is no controller-manager anyway).
//   - A BackupStorageLocation "default" on the S3 store, path-style, with a credentials file.
//   - Port 8080 free: the server's controller-runtime manager keeps its default metrics address :8080 and
//     no Velero flag changes it, so two Velero servers cannot run on one machine at once.
//   - Something that binds restored pods to a node (PodBinder): Velero clears spec.nodeName.
//   - Namespace deletion done by hand (DeleteNamespace): no namespace controller runs.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

const (
	// VeleroVersion is the Velero server release the test bed runs; hack/velero/go.mod must require it
	// (the Makefile reads the version from there).
	VeleroVersion = "v1.18.3"
	// VeleroPluginAWSVersion is the release of github.com/vmware-tanzu/velero-plugin-for-aws matched to
	// VeleroVersion; hack/velero/go.mod must require it.
	VeleroPluginAWSVersion = "v1.14.3"

	// DefaultVeleroNamespace is where the server runs and keeps its Backups and Restores.
	DefaultVeleroNamespace = "velero"
	// VeleroBucket is the object store's bucket for backups.
	VeleroBucket = "velero"
	// VeleroStorageLocation names the BackupStorageLocation (the default one, which Backups use).
	VeleroStorageLocation = "default"

	// veleroControllerRuntimeMetricsAddr is where Velero's controller-runtime manager serves metrics
	// whatever its flags say (pkg/cmd/server/server.go builds the manager without a metrics address).
	veleroControllerRuntimeMetricsAddr = ":8080"
)

// VeleroBinary returns Velero's executable: $VELERO_BIN if set, else bin/velero-<VeleroVersion> in the
// repository, where `make velero` builds it. It fails, naming the file and the make target, when missing.
func VeleroBinary() (string, error) {
	return toolBinary("VELERO_BIN", "velero-"+VeleroVersion)
}

// VeleroPluginAWSBinary returns the AWS object-store plugin's executable: $VELERO_PLUGIN_AWS_BIN if set,
// else bin/velero-plugin-for-aws-<VeleroPluginAWSVersion>, built by `make velero` too.
func VeleroPluginAWSBinary() (string, error) {
	return toolBinary("VELERO_PLUGIN_AWS_BIN", "velero-plugin-for-aws-"+VeleroPluginAWSVersion)
}

func toolBinary(env, name string) (string, error) {
	p := os.Getenv(env)
	if p == "" {
		p = filepath.Join(RepoRoot(), "bin", name)
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("no %s at %s (set $%s or run 'make velero', which builds it from hack/velero): %w", name, p, env, err)
	}
	return p, nil
}

// VeleroCRDDirs returns the directories of Velero's CRDs in its module directory at the version go.mod
// pins: config/crd/v1/bases and config/crd/v2alpha1/bases.
func VeleroCRDDirs() ([]string, error) {
	dir, err := veleroModuleDir()
	if err != nil {
		return nil, err
	}
	dirs := []string{filepath.Join(dir, "config", "crd", "v1", "bases"), filepath.Join(dir, "config", "crd", "v2alpha1", "bases")}
	for _, d := range dirs {
		if _, err := os.Stat(d); err != nil {
			return nil, fmt.Errorf("velero CRDs: %w", err)
		}
	}
	return dirs, nil
}

// VeleroOptions tune StartVelero. The zero value works next to StartKwok's defaults.
type VeleroOptions struct {
	// Namespace is Velero's namespace; default DefaultVeleroNamespace. Created when missing.
	Namespace string
	// Binary and PluginBinary are the server's and the AWS plugin's executables; defaults VeleroBinary()
	// and VeleroPluginAWSBinary().
	Binary, PluginBinary string
	// BindNode, when set, starts a PodBinder that binds unscheduled pods there (the kwok node).
	BindNode string
	// LogLevel is the server's --log-level; default "info", which has the "running exec hook" lines.
	LogLevel string
	// Output receives the server's log besides the log file in Velero.Dir; nil: only the file.
	Output io.Writer
	// StartTimeout bounds the start-up until the BackupStorageLocation is Available; default 2m.
	StartTimeout time.Duration
}

// Velero is a running `velero server` with its object store and, when asked, a pod binder.
type Velero struct {
	// Namespace is Velero's namespace, where Backups and Restores go.
	Namespace string
	// Binary is the velero executable (the server, and Velero's CLI).
	Binary string
	// Dir holds the server's kubeconfig, the store's credentials, the plugin directory and the log;
	// removed by Stop.
	Dir string
	// Kubeconfig is the admin kubeconfig the server uses (the CLI can use it too: velero --kubeconfig).
	Kubeconfig string
	// LogFile is the server's log. Exec hooks Velero runs show there as "running exec hook".
	LogFile string
	// Store is the object store backups go to.
	Store *ObjectStore
	// Binder binds restored pods to a node; nil unless VeleroOptions.BindNode was set.
	Binder *PodBinder
	// Client talks to the API server, with Velero's types in its scheme.
	Client client.Client

	cmd      *exec.Cmd
	exited   chan struct{}
	exitErr  error
	stopOnce sync.Once
	stopErr  error
}

// VeleroScheme has the core types and Velero's velero.io/v1 types.
func VeleroScheme() (*runtime.Scheme, error) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := velerov1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	return scheme, nil
}

// StartVelero installs Velero's CRDs into the API server of cfg, creates its namespace, the stand-in
// Deployment and a BackupStorageLocation on a fresh in-process object store, starts `velero server` and
// returns once the location is Available. Stop ends the server, the binder and the store.
func StartVelero(ctx context.Context, cfg *rest.Config, opts VeleroOptions) (_ *Velero, err error) {
	if opts.Namespace == "" {
		opts.Namespace = DefaultVeleroNamespace
	}
	if opts.LogLevel == "" {
		opts.LogLevel = "info"
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 2 * time.Minute
	}
	if opts.Binary == "" {
		if opts.Binary, err = VeleroBinary(); err != nil {
			return nil, err
		}
	}
	if opts.PluginBinary == "" {
		if opts.PluginBinary, err = VeleroPluginAWSBinary(); err != nil {
			return nil, err
		}
	}
	if err := portFree(veleroControllerRuntimeMetricsAddr); err != nil {
		return nil, fmt.Errorf("velero server needs port 8080 (its controller-runtime metrics server binds :8080 and no flag "+
			"moves it), so only one can run on this machine; is another test bed or `make run-local` running? %w", err)
	}
	crdDirs, err := VeleroCRDDirs()
	if err != nil {
		return nil, err
	}
	scheme, err := VeleroScheme()
	if err != nil {
		return nil, fmt.Errorf("velero: scheme: %w", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("velero: client: %w", err)
	}
	dir, err := os.MkdirTemp("", "velero-")
	if err != nil {
		return nil, fmt.Errorf("velero: %w", err)
	}
	v := &Velero{Namespace: opts.Namespace, Binary: opts.Binary, Dir: dir, Kubeconfig: filepath.Join(dir, "kubeconfig"),
		LogFile: filepath.Join(dir, "velero.log"), Client: c}
	defer func() {
		if err != nil {
			err = errors.Join(err, v.Stop())
		}
	}()
	if err = WriteKubeconfig(cfg, v.Kubeconfig); err != nil {
		return nil, err
	}
	if _, err = envtest.InstallCRDs(cfg, envtest.CRDInstallOptions{Paths: crdDirs, ErrorIfPathMissing: true}); err != nil {
		return nil, fmt.Errorf("velero: installing its CRDs: %w", err)
	}
	if v.Store, err = StartObjectStore(VeleroBucket); err != nil {
		return nil, err
	}
	credentials := filepath.Join(dir, "credentials")
	// Any keys do: the store checks no signatures. The plugin reads the file named in the location's config.
	if err = os.WriteFile(credentials, []byte("[default]\naws_access_key_id = test\naws_secret_access_key = test\n"), 0o600); err != nil {
		return nil, fmt.Errorf("velero: %w", err)
	}
	if err = v.createObjects(ctx, credentials); err != nil {
		return nil, err
	}
	pluginDir := filepath.Join(dir, "plugins")
	if err = os.MkdirAll(pluginDir, 0o755); err != nil {
		return nil, fmt.Errorf("velero: %w", err)
	}
	// A symlink, not a 112 MiB copy: Velero lists the directory with Lstat and runs what is executable.
	if err = os.Symlink(opts.PluginBinary, filepath.Join(pluginDir, "velero-plugin-for-aws")); err != nil {
		return nil, fmt.Errorf("velero: plugin directory: %w", err)
	}
	if err = v.start(opts, pluginDir); err != nil {
		return nil, err
	}
	startCtx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	if err = v.waitLocationAvailable(startCtx); err != nil {
		return nil, err
	}
	if opts.BindNode != "" {
		if v.Binder, err = StartPodBinder(ctx, cfg, opts.BindNode); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// portFree fails when something listens on addr.
func portFree(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return l.Close()
}

// createObjects creates Velero's namespace, the stand-in Deployment and the BackupStorageLocation.
func (v *Velero) createObjects(ctx context.Context, credentials string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: v.Namespace}}
	if err := v.Client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("velero: creating namespace %s: %w", v.Namespace, err)
	}
	labels := map[string]string{"component": "velero", "deploy": "velero"}
	deploy := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: v.Namespace, Name: "velero", Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](0),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "velero", Image: "velero/velero:" + VeleroVersion,
				}}},
			},
		},
	}
	if err := v.Client.Create(ctx, deploy); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("velero: creating the stand-in Deployment %s/velero: %w", v.Namespace, err)
	}
	bsl := &velerov1.BackupStorageLocation{
		ObjectMeta: metav1.ObjectMeta{Namespace: v.Namespace, Name: VeleroStorageLocation},
		Spec: velerov1.BackupStorageLocationSpec{
			// "aws" is velero.io/aws, the name the plugin registers (Velero adds the prefix).
			Provider: "aws",
			Default:  true,
			StorageType: velerov1.StorageType{ObjectStorage: &velerov1.ObjectStorageLocation{
				Bucket: v.Store.Bucket,
			}},
			Config: map[string]string{
				"region":           "us-east-1",
				"s3ForcePathStyle": "true",
				"s3Url":            v.Store.URL,
				"credentialsFile":  credentials,
			},
		},
	}
	if err := v.Client.Create(ctx, bsl); err != nil {
		return fmt.Errorf("velero: creating BackupStorageLocation %s/%s: %w", v.Namespace, bsl.Name, err)
	}
	return nil
}

func (v *Velero) start(opts VeleroOptions, pluginDir string) error {
	metricsPort, err := freePort()
	if err != nil {
		return err
	}
	logFile, err := os.Create(v.LogFile)
	if err != nil {
		return fmt.Errorf("velero: %w", err)
	}
	var out io.Writer = logFile
	if opts.Output != nil {
		out = io.MultiWriter(logFile, opts.Output)
	}
	cmd := exec.Command(opts.Binary, "server",
		"--kubeconfig", v.Kubeconfig,
		"--namespace", v.Namespace,
		"--plugin-dir", pluginDir,
		"--log-level", opts.LogLevel,
		// Its own metrics (default :8085 on every interface) on loopback; the profiler (default
		// localhost:6060, a fixed port) off.
		"--metrics-address", "127.0.0.1:"+strconv.Itoa(metricsPort),
		"--profiler-address", "",
		// The location is checked every minute by default; the start-up waits for the first check.
		"--store-validation-frequency", "5s",
	)
	cmd.Dir = v.Dir
	// The plugin is a child process and inherits this: nothing looks for EC2 instance metadata.
	cmd.Env = append(os.Environ(), "AWS_EC2_METADATA_DISABLED=true")
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, so Stop also ends the plugin processes it starts; Pdeathsig so a test binary
	// that dies without Stop takes the server with it (it would hold port 8080 for the next run).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return fmt.Errorf("velero: starting %s server: %w", opts.Binary, err)
	}
	v.cmd = cmd
	v.exited = make(chan struct{})
	go func() {
		v.exitErr = cmd.Wait()
		_ = logFile.Close()
		close(v.exited)
	}()
	return nil
}

// waitLocationAvailable waits until the server has validated the BackupStorageLocation (it reached the
// store through the plugin), failing early with the server's log if it exits.
func (v *Velero) waitLocationAvailable(ctx context.Context) error {
	last := "not validated yet"
	err := wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		if err := v.exitedErr(); err != nil {
			return false, err
		}
		bsl := &velerov1.BackupStorageLocation{}
		if err := v.Client.Get(ctx, client.ObjectKey{Namespace: v.Namespace, Name: VeleroStorageLocation}, bsl); err != nil {
			last = err.Error()
			return false, nil
		}
		if bsl.Status.Phase != "" {
			last = fmt.Sprintf("phase %s %s", bsl.Status.Phase, bsl.Status.Message)
		}
		return bsl.Status.Phase == velerov1.BackupStorageLocationPhaseAvailable, nil
	})
	if err != nil {
		return fmt.Errorf("velero: BackupStorageLocation %s/%s not Available (%s): %w\n%s",
			v.Namespace, VeleroStorageLocation, last, err, v.LogTail(4096))
	}
	return nil
}

// exitedErr returns an error when the server process has exited.
func (v *Velero) exitedErr() error {
	select {
	case <-v.exited:
		return fmt.Errorf("velero server exited: %v", v.exitErr)
	default:
		return nil
	}
}

// Running returns nil while the server runs, else how it exited.
func (v *Velero) Running() error { return v.exitedErr() }

// LogTail returns the last max bytes of the server's log, for error messages.
func (v *Velero) LogTail(max int) string {
	data, err := os.ReadFile(v.LogFile)
	if err != nil {
		return "(no velero log: " + err.Error() + ")"
	}
	if len(data) > max {
		data = data[len(data)-max:]
	}
	return "velero server log (" + v.LogFile + "):\n" + string(data)
}

// Stop ends the binder, the server (SIGTERM to its process group, SIGKILL after 10s; reaped) and the
// object store, and removes Dir (the log with it). Safe to call more than once.
func (v *Velero) Stop() error {
	v.stopOnce.Do(func() {
		var errs []error
		if v.Binder != nil {
			v.Binder.Stop()
		}
		if v.cmd != nil && v.cmd.Process != nil {
			pgid := v.cmd.Process.Pid
			_ = syscall.Kill(-pgid, syscall.SIGTERM)
			select {
			case <-v.exited:
			case <-time.After(10 * time.Second):
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
				<-v.exited
			}
			// Plugin processes may outlive the server in its group.
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
		if v.Store != nil {
			errs = append(errs, v.Store.Stop())
		}
		if v.Dir != "" {
			errs = append(errs, os.RemoveAll(v.Dir))
		}
		v.stopErr = errors.Join(errs...)
	})
	return v.stopErr
}

// joinSorted joins errs in the order of their messages, so a message built from a map reads the same
// every time.
func joinSorted(errs []error) error {
	slices.SortFunc(errs, func(a, b error) int {
		switch {
		case a.Error() < b.Error():
			return -1
		case a.Error() > b.Error():
			return 1
		}
		return 0
	})
	return errors.Join(errs...)
}
