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

// kwok (Kubernetes WithOut Kubelet) stands in for the kubelet: it simulates the lifecycle of the pods
// bound to the nodes it manages and serves the kubelet API, so `pods/exec` through the API server runs
// the command as a local process on this machine.
//
// What kwok v0.7.0 needs, found by trying against envtest's kube-apiserver v1.36:
//
//   - Its CRDs for the kinds passed to --enable-crds (kustomize/crd/bases in the kwok module directory);
//     kwok exits at start-up when an enabled kind has no CRD.
//   - A ClusterExec with `spec.execs: [{local: {workDir: ...}}]` (no selector: every pod, every
//     container); without one kwok answers every exec with "no exec found for container".
//   - No Stage objects: when --enable-crds does not include Stage and no config file has stages, kwok
//     loads its built-in "fast" stages (node-initialize + heartbeat for nodes; pod-ready, pod-complete,
//     pod-delete for pods), which mark a managed node Ready with status.addresses = --node-ip and
//     status.daemonEndpoints.kubeletEndpoint.Port = --node-port, and a pod bound to it Running with
//     every container Running and Ready within a second. (pod-complete only touches pods owned by a Job.)
//   - --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake, so a second node whose status
//     the tests write themselves is left alone, as are its pods.
//   - --server-address 127.0.0.1:PORT: kwok serves the kubelet API there. Without --tls-cert-file it
//     serves HTTPS with httptest's self-signed certificate (plain HTTP on the same port too).
//
// The API server needs no extra flag: it reaches a node's kubelet at the address picked by
// --kubelet-preferred-address-types (default Hostname,InternalDNS,InternalIP,ExternalDNS,ExternalIP;
// our nodes only have an InternalIP) and the node's daemonEndpoints port, over HTTPS; with no
// --kubelet-certificate-authority it does not verify the kubelet's certificate, so kwok's self-signed
// one is accepted. kwok does not authenticate the API server (no --client-ca-file), so
// --kubelet-client-certificate is not needed either. envtest runs no scheduler, no node lifecycle
// controller and no garbage collector: pods must be bound with spec.nodeName, nodes never get tainted.

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

const (
	// KwokModule is the Go module of kwok; its directory carries kwok's CRDs.
	KwokModule = "sigs.k8s.io/kwok"
	// KwokVersion is the kwok release this package drives; the Makefile's KWOK_VERSION must match.
	KwokVersion = "v0.7.0"

	// KwokNodeAnnotation marks the nodes kwok manages (with the value "fake").
	KwokNodeAnnotation = "kwok.x-k8s.io/node"

	// DefaultManagedNode is the node kwok manages: pods bound to it go Running by themselves.
	DefaultManagedNode = "kwok-node"
	// DefaultUnmanagedNode is the node kwok leaves alone: its pods keep whatever status a test writes,
	// while their pods/exec is still served by kwok.
	DefaultUnmanagedNode = "manual-node"
)

// KwokOptions tune StartKwok. The zero value works.
type KwokOptions struct {
	// Binary is the kwok executable; default KwokBinary().
	Binary string
	// WorkDir is the working directory of the commands kwok runs for pods/exec; default a fresh temp
	// directory, removed by Stop.
	WorkDir string
	// ManagedNode and UnmanagedNode name the two nodes; defaults DefaultManagedNode, DefaultUnmanagedNode.
	ManagedNode, UnmanagedNode string
	// Output receives kwok's own log (stdout and stderr) besides the log file in Kwok.Dir; nil: only the file.
	Output io.Writer
	// StartTimeout bounds the start-up: kwok serving, the managed node Ready; default 60s.
	StartTimeout time.Duration
}

// Kwok is a running kwok process attached to an API server, with its two nodes.
type Kwok struct {
	// Dir is a temp directory holding the kubeconfig and kwok's log; removed by Stop.
	Dir string
	// Kubeconfig is the path of an admin kubeconfig for the API server (the one kwok uses; kubectl can too).
	Kubeconfig string
	// LogFile is the path of kwok's log.
	LogFile string
	// WorkDir is where the commands of pods/exec run.
	WorkDir string
	// Port is where kwok serves the kubelet API, on 127.0.0.1.
	Port int
	// ManagedNode is the node kwok manages; UnmanagedNode the node whose status this helper wrote.
	ManagedNode, UnmanagedNode string
	// Client talks to the API server (core types and unstructured objects).
	Client client.Client

	cmd        *exec.Cmd
	exited     chan struct{}
	exitErr    error
	ownWorkDir bool
	stopOnce   sync.Once
	stopErr    error
}

// KwokBinary returns the kwok executable: $KWOK_BIN if set, else bin/kwok-<KwokVersion> in the
// repository (where `make kwok` installs it). It fails, saying to run `make kwok`, when the file is missing.
func KwokBinary() (string, error) {
	p := os.Getenv("KWOK_BIN")
	if p == "" {
		p = filepath.Join(RepoRoot(), "bin", "kwok-"+KwokVersion)
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("no kwok binary at %s: run 'make kwok' (it installs sigs.k8s.io/kwok/cmd/kwok@%s into ./bin): %w",
			p, KwokVersion, err)
	}
	return p, nil
}

// KwokModuleDir returns the directory of the kwok module at KwokVersion in the module cache,
// downloading it if needed. kwok is not a dependency of this module (nothing imports it), so `go list -m`
// would not know it; `go mod download` with an explicit version runs outside the module so it never
// touches go.mod or go.sum. $KWOK_MODULE_DIR overrides it.
func KwokModuleDir() (string, error) {
	if d := os.Getenv("KWOK_MODULE_DIR"); d != "" {
		return d, nil
	}
	cmd := exec.Command("go", "mod", "download", "-json", KwokModule+"@"+KwokVersion)
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GO111MODULE=on")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("downloading %s@%s (go mod download): %w: %s", KwokModule, KwokVersion, err, strings.TrimSpace(stderr.String()))
	}
	var mod struct{ Dir, Error string }
	if err := json.Unmarshal(out, &mod); err != nil {
		return "", fmt.Errorf("reading go mod download's answer for %s: %w", KwokModule, err)
	}
	if mod.Error != "" || mod.Dir == "" {
		return "", fmt.Errorf("downloading %s@%s: %s", KwokModule, KwokVersion, mod.Error)
	}
	return mod.Dir, nil
}

// kwokCRDFiles returns the CRD files of kwok's kinds, e.g. "ClusterExec" → kwok.x-k8s.io_clusterexecs.yaml.
func kwokCRDFiles(moduleDir string, kinds ...string) ([]string, error) {
	var out []string
	for _, kind := range kinds {
		p := filepath.Join(moduleDir, "kustomize", "crd", "bases", "kwok.x-k8s.io_"+strings.ToLower(kind)+"s.yaml")
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("kwok CRD for %s: %w", kind, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// freePort asks the kernel for a free TCP port on 127.0.0.1. Another process may take it before kwok
// binds it; StartKwok then fails with kwok's "address already in use" in its error.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// kwokEnabledCRDs are the kwok kinds served from objects in the API server rather than a config file.
var kwokEnabledCRDs = []string{"ClusterExec", "Exec"}

// StartKwok attaches kwok to the API server of cfg: installs kwok's ClusterExec and Exec CRDs, creates a
// ClusterExec running every pods/exec locally in opts.WorkDir, starts the kwok binary, and creates two
// nodes: ManagedNode (kwok marks it Ready and runs its pods) and UnmanagedNode (Ready because this
// helper wrote its status; kwok never touches it or its pods). It returns once kwok serves and the
// managed node is Ready. Stop ends kwok; the nodes and pods stay in the API server.
func StartKwok(ctx context.Context, cfg *rest.Config, opts KwokOptions) (_ *Kwok, err error) {
	if opts.ManagedNode == "" {
		opts.ManagedNode = DefaultManagedNode
	}
	if opts.UnmanagedNode == "" {
		opts.UnmanagedNode = DefaultUnmanagedNode
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 60 * time.Second
	}
	if opts.Binary == "" {
		if opts.Binary, err = KwokBinary(); err != nil {
			return nil, err
		}
	}
	moduleDir, err := KwokModuleDir()
	if err != nil {
		return nil, err
	}
	crds, err := kwokCRDFiles(moduleDir, kwokEnabledCRDs...)
	if err != nil {
		return nil, err
	}

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("kwok: scheme: %w", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("kwok: client: %w", err)
	}

	dir, err := os.MkdirTemp("", "kwok-")
	if err != nil {
		return nil, fmt.Errorf("kwok: %w", err)
	}
	k := &Kwok{
		Dir: dir, Kubeconfig: filepath.Join(dir, "kubeconfig"), LogFile: filepath.Join(dir, "kwok.log"),
		WorkDir: opts.WorkDir, ManagedNode: opts.ManagedNode, UnmanagedNode: opts.UnmanagedNode, Client: c,
	}
	defer func() {
		if err != nil {
			_ = k.Stop()
		}
	}()
	if k.WorkDir == "" {
		if k.WorkDir, err = os.MkdirTemp("", "kwok-exec-"); err != nil {
			return nil, fmt.Errorf("kwok: %w", err)
		}
		k.ownWorkDir = true
	}
	if err = WriteKubeconfig(cfg, k.Kubeconfig); err != nil {
		return nil, err
	}
	if _, err = envtest.InstallCRDs(cfg, envtest.CRDInstallOptions{Paths: crds, ErrorIfPathMissing: true}); err != nil {
		return nil, fmt.Errorf("kwok: installing its CRDs: %w", err)
	}
	// Before kwok starts, so its informer lists it at once and the first exec finds it.
	if err = k.applyClusterExec(ctx); err != nil {
		return nil, err
	}
	if k.Port, err = freePort(); err != nil {
		return nil, err
	}
	if err = k.start(opts); err != nil {
		return nil, err
	}

	startCtx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	if err = k.waitServing(startCtx); err != nil {
		return nil, err
	}
	if err = k.createNodes(startCtx); err != nil {
		return nil, err
	}
	if err = k.waitNodeReady(startCtx, k.ManagedNode); err != nil {
		return nil, err
	}
	return k, nil
}

func (k *Kwok) applyClusterExec(ctx context.Context) error {
	ce := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kwok.x-k8s.io/v1alpha1",
		"kind":       "ClusterExec",
		"metadata":   map[string]any{"name": "local"},
		"spec": map[string]any{
			"execs": []any{map[string]any{"local": map[string]any{"workDir": k.WorkDir}}},
		},
	}}
	err := k.Client.Create(ctx, ce)
	if apierrors.IsAlreadyExists(err) {
		// A previous kwok on this API server (make run-local restarted): point it at our work dir.
		cur := &unstructured.Unstructured{}
		cur.SetGroupVersionKind(ce.GroupVersionKind())
		if err = k.Client.Get(ctx, client.ObjectKeyFromObject(ce), cur); err == nil {
			cur.Object["spec"] = ce.Object["spec"]
			err = k.Client.Update(ctx, cur)
		}
	}
	if err != nil {
		return fmt.Errorf("kwok: creating ClusterExec: %w", err)
	}
	return nil
}

func (k *Kwok) start(opts KwokOptions) error {
	logFile, err := os.Create(k.LogFile)
	if err != nil {
		return fmt.Errorf("kwok: %w", err)
	}
	var out io.Writer = logFile
	if opts.Output != nil {
		out = io.MultiWriter(logFile, opts.Output)
	}
	// kwok reads ~/.kwok/kwok.yaml unless told otherwise; an empty config keeps a developer's own file
	// from changing what the tests see (its stages, for one).
	kwokConfig := filepath.Join(k.Dir, "kwok.yaml")
	if err := os.WriteFile(kwokConfig, nil, 0o600); err != nil {
		return fmt.Errorf("kwok: %w", err)
	}
	port := strconv.Itoa(k.Port)
	cmd := exec.Command(opts.Binary,
		"--kubeconfig", k.Kubeconfig,
		"--manage-nodes-with-annotation-selector", KwokNodeAnnotation+"=fake",
		"--enable-crds", strings.Join(kwokEnabledCRDs, ","),
		"--server-address", "127.0.0.1:"+port,
		"--node-ip", "127.0.0.1",
		"--node-port", port,
		"--config", kwokConfig,
	)
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group: Stop ends kwok and the exec'd commands still running under it (a hook
	// `sleep 30` whose client gave up), not just kwok. Pdeathsig: a test binary that dies without
	// calling Stop (a panic, go test's timeout) takes kwok with it instead of leaving it orphaned.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return fmt.Errorf("kwok: starting %s: %w", opts.Binary, err)
	}
	k.cmd = cmd
	k.exited = make(chan struct{})
	go func() {
		k.exitErr = cmd.Wait()
		_ = logFile.Close()
		close(k.exited)
	}()
	return nil
}

// waitServing polls kwok's /healthz until it answers, failing early (with kwok's log) if kwok exits.
func (k *Kwok) waitServing(ctx context.Context) error {
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		// kwok's certificate is httptest's self-signed one.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // local test server
	}}
	url := "https://127.0.0.1:" + strconv.Itoa(k.Port) + "/healthz"
	err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		select {
		case <-k.exited:
			return false, fmt.Errorf("kwok exited: %v", k.exitErr)
		default:
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return false, err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return false, nil
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		return fmt.Errorf("kwok did not start serving on 127.0.0.1:%d: %w\n%s", k.Port, err, k.logTail())
	}
	return nil
}

func (k *Kwok) createNodes(ctx context.Context) error {
	managed := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name:        k.ManagedNode,
		Annotations: map[string]string{KwokNodeAnnotation: "fake"},
		Labels:      map[string]string{corev1.LabelHostname: k.ManagedNode, "type": "kwok"},
	}}
	if err := k.Client.Create(ctx, managed); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("kwok: creating node %s: %w", k.ManagedNode, err)
	}

	unmanaged := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name:   k.UnmanagedNode,
		Labels: map[string]string{corev1.LabelHostname: k.UnmanagedNode, "type": "manual"},
	}}
	if err := k.Client.Create(ctx, unmanaged); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("kwok: creating node %s: %w", k.UnmanagedNode, err)
	}
	// What the API server reads to reach a node's kubelet: an address of a preferred type and the
	// kubelet port. Both point at kwok, so this node's pods/exec runs locally like the managed node's.
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := k.Client.Get(ctx, client.ObjectKeyFromObject(unmanaged), unmanaged); err != nil {
			return err
		}
		now := metav1.Now()
		unmanaged.Status.Addresses = []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: "127.0.0.1"},
		}
		unmanaged.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(k.Port) //nolint:gosec // a TCP port
		unmanaged.Status.Conditions = []corev1.NodeCondition{{
			Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
			Message:           "status written by internal/localcluster; kwok serves its kubelet API",
			LastHeartbeatTime: now, LastTransitionTime: now,
		}}
		unmanaged.Status.Phase = corev1.NodeRunning
		return k.Client.Status().Update(ctx, unmanaged)
	})
	if err != nil {
		return fmt.Errorf("kwok: writing node %s's status: %w", k.UnmanagedNode, err)
	}
	return nil
}

func (k *Kwok) waitNodeReady(ctx context.Context, name string) error {
	var last string
	err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		node := &corev1.Node{}
		if err := k.Client.Get(ctx, client.ObjectKey{Name: name}, node); err != nil {
			last = err.Error()
			return false, nil
		}
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady {
				last = fmt.Sprintf("Ready=%s", c.Status)
				return c.Status == corev1.ConditionTrue, nil
			}
		}
		last = "no Ready condition"
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("kwok: node %s not Ready (%s): %w\n%s", name, last, err, k.logTail())
	}
	return nil
}

// logTail returns the end of kwok's log, for error messages.
func (k *Kwok) logTail() string {
	data, err := os.ReadFile(k.LogFile)
	if err != nil {
		return "(no kwok log: " + err.Error() + ")"
	}
	const max = 4096
	if len(data) > max {
		data = data[len(data)-max:]
	}
	return "kwok log (" + k.LogFile + "):\n" + string(data)
}

// Stop ends kwok (SIGTERM to its process group, SIGKILL after 5s) and removes Dir and a WorkDir it
// created. The Kubeconfig file is gone afterwards. Safe to call more than once.
func (k *Kwok) Stop() error {
	k.stopOnce.Do(func() {
		if k.cmd != nil && k.cmd.Process != nil {
			pgid := k.cmd.Process.Pid
			_ = syscall.Kill(-pgid, syscall.SIGTERM)
			select {
			case <-k.exited:
			case <-time.After(5 * time.Second):
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
				<-k.exited
			}
			// Exec'd commands may outlive kwok in its group; end them too.
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
		var errs []error
		if k.Dir != "" {
			errs = append(errs, os.RemoveAll(k.Dir))
		}
		if k.ownWorkDir && k.WorkDir != "" {
			errs = append(errs, os.RemoveAll(k.WorkDir))
		}
		k.stopErr = errors.Join(errs...)
	})
	return k.stopErr
}
