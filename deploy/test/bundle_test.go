package deploytest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

var (
	repoRoot    = filepath.Join("..", "..")
	manifestDir = filepath.Join(repoRoot, "deploy", "kubernetes")
	chartDir    = filepath.Join(repoRoot, "deploy", "helm", "apitap")
)

// serviceMonitor is the part of the Prometheus Operator's ServiceMonitor
// (monitoring.coreos.com/v1) that the artifacts use. Decoding is strict, so
// a field used in a manifest must be added here, spelt as in the CRD.
type serviceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Selector          metav1.LabelSelector `json:"selector"`
		NamespaceSelector struct {
			Any        bool     `json:"any,omitempty"`
			MatchNames []string `json:"matchNames,omitempty"`
		} `json:"namespaceSelector"`
		JobLabel  string `json:"jobLabel,omitempty"`
		Endpoints []struct {
			Port          string `json:"port"`
			Path          string `json:"path,omitempty"`
			Scheme        string `json:"scheme,omitempty"`
			Interval      string `json:"interval,omitempty"`
			Authorization *struct {
				Type        string                   `json:"type,omitempty"`
				Credentials corev1.SecretKeySelector `json:"credentials"`
			} `json:"authorization,omitempty"`
			Relabelings []struct {
				SourceLabels []string `json:"sourceLabels,omitempty"`
				TargetLabel  string   `json:"targetLabel,omitempty"`
				Action       string   `json:"action,omitempty"`
				Regex        string   `json:"regex,omitempty"`
				Replacement  string   `json:"replacement,omitempty"`
			} `json:"relabelings,omitempty"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// kustomization is the part of kustomize's Kustomization that
// deploy/kubernetes/kustomization.yaml uses.
type kustomization struct {
	metav1.TypeMeta `json:",inline"`
	Resources       []string `json:"resources"`
}

// bundle is one set of objects to check: the plain manifests or one
// rendering of the chart.
type bundle struct {
	daemonSets      []*appsv1.DaemonSet
	deployments     []*appsv1.Deployment
	configMaps      map[string]*corev1.ConfigMap
	secrets         map[string]*corev1.Secret
	services        []*corev1.Service
	serviceMonitors []*serviceMonitor
	namespaces      []*corev1.Namespace
	kustomizations  []*kustomization
}

func newBundle() *bundle {
	return &bundle{configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}}
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*(#.*)?$`)

// addFile decodes every YAML document of a file into the bundle.
func (b *bundle) addFile(name string, data []byte) error {
	for i, doc := range docSeparator.Split(string(data), -1) {
		if isBlank(doc) {
			continue
		}
		if err := b.add([]byte(doc)); err != nil {
			return fmt.Errorf("%s, document %d: %w", name, i+1, err)
		}
	}
	return nil
}

// isBlank reports whether a YAML document holds only comments and space.
func isBlank(doc string) bool {
	for _, line := range strings.Split(doc, "\n") {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") {
			return false
		}
	}
	return true
}

// add decodes one document strictly, by its apiVersion and kind: unknown
// fields, duplicate keys and wrong types are errors.
func (b *bundle) add(doc []byte) error {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return fmt.Errorf("not a Kubernetes object: %w", err)
	}
	var (
		obj  any
		name func() string
	)
	switch tm.APIVersion + "/" + tm.Kind {
	case "apps/v1/DaemonSet":
		o := &appsv1.DaemonSet{}
		obj, name = o, func() string { b.daemonSets = append(b.daemonSets, o); return o.Name }
	case "apps/v1/Deployment":
		o := &appsv1.Deployment{}
		obj, name = o, func() string { b.deployments = append(b.deployments, o); return o.Name }
	case "v1/ConfigMap":
		o := &corev1.ConfigMap{}
		obj, name = o, func() string { b.configMaps[o.Name] = o; return o.Name }
	case "v1/Secret":
		o := &corev1.Secret{}
		obj, name = o, func() string { b.secrets[o.Name] = o; return o.Name }
	case "v1/Service":
		o := &corev1.Service{}
		obj, name = o, func() string { b.services = append(b.services, o); return o.Name }
	case "v1/Namespace":
		o := &corev1.Namespace{}
		obj, name = o, func() string { b.namespaces = append(b.namespaces, o); return o.Name }
	case "monitoring.coreos.com/v1/ServiceMonitor":
		o := &serviceMonitor{}
		obj, name = o, func() string { b.serviceMonitors = append(b.serviceMonitors, o); return o.Name }
	case "kustomize.config.k8s.io/v1beta1/Kustomization":
		o := &kustomization{}
		obj, name = o, func() string { b.kustomizations = append(b.kustomizations, o); return "" }
	default:
		return fmt.Errorf("unexpected object apiVersion %q kind %q (add it to bundle.add)", tm.APIVersion, tm.Kind)
	}
	if err := decodeStrict(doc, obj); err != nil {
		return fmt.Errorf("%s: %w", tm.Kind, err)
	}
	if n := name(); n == "" && tm.Kind != "Kustomization" {
		return fmt.Errorf("%s without metadata.name", tm.Kind)
	}
	return nil
}

// decodeStrict decodes YAML as the API server decodes JSON in strict field
// validation: field names are case-sensitive (encoding/json, under
// sigs.k8s.io/yaml's UnmarshalStrict, is not), and unknown or duplicate
// fields are errors.
func decodeStrict(doc []byte, obj any) error {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	strict, err := kjson.UnmarshalStrict(j, obj, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		return err
	}
	if len(strict) > 0 {
		return fmt.Errorf("strict decoding: %w", errors.Join(strict...))
	}
	return nil
}

// loadManifests decodes deploy/kubernetes/*.yaml.
func loadManifests(t *testing.T) (*bundle, []string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(manifestDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s (%v)", manifestDir, err)
	}
	sort.Strings(files)
	b := newBundle()
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.addFile(filepath.Base(f), data); err != nil {
			t.Fatalf("deploy/kubernetes/%v", err)
		}
	}
	return b, files
}

// release is how the tests install the chart.
var release = chartutil.ReleaseOptions{Name: "apitap", Namespace: "apitap", Revision: 1, IsInstall: true}

// renderChart renders deploy/helm/apitap with values over the chart's
// defaults, in strict mode (a reference to a missing value is an error),
// and decodes the output. NOTES.txt is rendered but not decoded.
func renderChart(values map[string]any) (*bundle, map[string]string, error) {
	chrt, err := loader.Load(chartDir)
	if err != nil {
		return nil, nil, fmt.Errorf("load chart: %w", err)
	}
	vals, err := chartutil.ToRenderValues(chrt, values, release, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("values: %w", err)
	}
	out, err := engine.Engine{Strict: true}.Render(chrt, vals)
	if err != nil {
		return nil, nil, fmt.Errorf("render: %w", err)
	}
	names := make([]string, 0, len(out))
	for n := range out {
		names = append(names, n)
	}
	sort.Strings(names)
	b := newBundle()
	for _, n := range names {
		if !strings.HasSuffix(n, ".yaml") {
			continue
		}
		if err := b.addFile(n, []byte(out[n])); err != nil {
			return nil, out, err
		}
	}
	return b, out, nil
}

// toYAML is for failure messages.
func toYAML(v any) string {
	b, err := yaml.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%+v", v)
	}
	return string(bytes.TrimSpace(b))
}
