package deploytest

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// kubeVersion is the Kubernetes version helm lints and renders for (a helm
// built from source says v1.20.0, below the chart's kubeVersion).
const kubeVersion = "1.33.0"

var (
	toolMu  sync.Mutex
	toolBin = map[string]string{}
)

// tools are the tool directives of go.mod, by command name.
var tools = map[string]string{"helm": "helm.sh/helm/v3/cmd/helm", "kustomize": "sigs.k8s.io/kustomize/kustomize/v5"}

// goTool runs helm or kustomize at the version the tool directives of
// go.mod pin (what `go tool NAME` runs), built once per test run.
func goTool(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	toolMu.Lock()
	bin, ok := toolBin[name]
	if !ok {
		bin = filepath.Join(tmpDir, name)
		if out, err := exec.Command("go", "build", "-o", bin, tools[name]).CombinedOutput(); err != nil {
			toolMu.Unlock()
			t.Fatalf("go build %s: %v\n%s", tools[name], err, out)
		}
		toolBin[name] = bin
	}
	toolMu.Unlock()
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s%s", name, args, err, out, stderr.String())
	}
	return out
}

// TestHelmCLI runs the helm command itself over the chart with every value
// set: `helm lint --strict` must pass, and what `helm template` renders
// must keep the DaemonSet's promises (as TestChart checks the library
// rendering) and carry the Grafana dashboard ConfigMap.
func TestHelmCLI(t *testing.T) {
	dash, err := os.ReadFile(repoRoot + "/deploy/grafana/apitap.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range chartCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			var values []string
			if tc.file != "" {
				values = []string{"--values", tc.file}
			}
			goTool(t, "helm", append([]string{"lint", "--strict", "--kube-version", kubeVersion, chartDir}, values...)...)
			out := goTool(t, "helm", append([]string{"template", "apitap", chartDir, "--namespace", "apitap", "--kube-version", kubeVersion}, values...)...)
			b := newBundle()
			if err := b.addFile("helm template", out); err != nil {
				t.Fatal(err)
			}
			p := podOf(t, b)
			checkPod(t, p)
			checkConfig(t, p)
			found := 0
			for _, cm := range b.configMaps {
				if cm.Labels["grafana_dashboard"] != "1" {
					continue
				}
				found++
				var d map[string]any
				if err := json.Unmarshal([]byte(cm.Data["apitap.json"]), &d); err != nil || cm.Data["apitap.json"] != string(bytes.TrimRight(dash, "\n")) {
					t.Errorf("ConfigMap %s: the dashboard is not deploy/grafana/apitap.json (%v)", cm.Name, err)
				}
			}
			if found != 1 {
				t.Errorf("%d dashboard ConfigMaps labelled grafana_dashboard=1, want 1", found)
			}
		})
	}
}

// TestKustomizeCLI builds deploy/kubernetes with kustomize (what
// `kubectl kustomize` and `kubectl apply -k` run) and checks the result.
func TestKustomizeCLI(t *testing.T) {
	out := goTool(t, "kustomize", "build", manifestDir)
	b := newBundle()
	if err := b.addFile("kustomize build", out); err != nil {
		t.Fatal(err)
	}
	if len(b.namespaces) != 1 || len(b.services) != 1 || len(b.serviceMonitors) != 1 {
		t.Errorf("kustomize build: %d namespaces, %d services, %d service monitors, want one each", len(b.namespaces), len(b.services), len(b.serviceMonitors))
	}
	p := podOf(t, b)
	checkPod(t, p)
	checkConfig(t, p)
}
