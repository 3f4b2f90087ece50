package deploytest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

// wantCaps are the capabilities docs/live-capture.md (Privileges) lists:
// AF_PACKET sockets, promiscuous mode, loading the eBPF pre-filter.
var wantCaps = []corev1.Capability{"BPF", "NET_ADMIN", "NET_RAW", "PERFMON"}

// pod is the DaemonSet of a bundle with its apitap container and parsed
// flags, what the checks look at.
type pod struct {
	b     *bundle
	ds    *appsv1.DaemonSet
	spec  *corev1.PodSpec
	c     *corev1.Container
	flags map[string][]string
}

// podCheck is one promise of docs/kubernetes.md; fn says what is wrong.
type podCheck struct {
	name string
	fn   func(p pod) error
}

var podChecks = []podCheck{
	{"host network", func(p pod) error {
		if !p.spec.HostNetwork {
			return errors.New("hostNetwork must be true: the sensor captures the node's interfaces")
		}
		if p.spec.DNSPolicy != corev1.DNSClusterFirstWithHostNet {
			return fmt.Errorf("dnsPolicy is %q, want ClusterFirstWithHostNet (cluster DNS names such as the Kafka brokers)", p.spec.DNSPolicy)
		}
		return nil
	}},
	{"not privileged", func(p pod) error {
		if sc := p.c.SecurityContext; sc == nil || sc.Privileged == nil || *sc.Privileged {
			return errors.New("securityContext.privileged must be set to false")
		}
		return nil
	}},
	{"no privilege escalation", func(p pod) error {
		if sc := p.c.SecurityContext; sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			return errors.New("securityContext.allowPrivilegeEscalation must be set to false")
		}
		return nil
	}},
	{"read-only root filesystem", func(p pod) error {
		if sc := p.c.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			return errors.New("securityContext.readOnlyRootFilesystem must be true")
		}
		return nil
	}},
	{"capabilities", func(p pod) error {
		sc := p.c.SecurityContext
		if sc == nil || sc.Capabilities == nil {
			return errors.New("securityContext.capabilities missing")
		}
		if !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
			return fmt.Errorf("capabilities.drop is %v, want [ALL]", sc.Capabilities.Drop)
		}
		add := slices.Clone(sc.Capabilities.Add)
		slices.Sort(add)
		if !slices.Equal(add, wantCaps) {
			return fmt.Errorf("capabilities.add is %v, want exactly %v (docs/live-capture.md, Privileges)", sc.Capabilities.Add, wantCaps)
		}
		return nil
	}},
	{"uid 0 for the capabilities", func(p pod) error {
		// The image runs as 65532 (distroless nonroot); Kubernetes gives a
		// non-root process no ambient capabilities, so capture needs uid 0.
		sc := p.c.SecurityContext
		if sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != 0 {
			return errors.New("securityContext.runAsUser must be 0: the image's user 65532 would start without the capture capabilities")
		}
		if sc.RunAsNonRoot != nil && *sc.RunAsNonRoot {
			return errors.New("runAsNonRoot: true contradicts runAsUser: 0")
		}
		return nil
	}},
	{"seccomp RuntimeDefault", func(p pod) error {
		prof := (*corev1.SeccompProfile)(nil)
		if p.spec.SecurityContext != nil {
			prof = p.spec.SecurityContext.SeccompProfile
		}
		if p.c.SecurityContext != nil && p.c.SecurityContext.SeccompProfile != nil {
			prof = p.c.SecurityContext.SeccompProfile
		}
		if prof == nil || prof.Type != corev1.SeccompProfileTypeRuntimeDefault {
			return fmt.Errorf("seccomp profile is %s, want RuntimeDefault", toYAML(prof))
		}
		return nil
	}},
	{"no service account token", func(p pod) error {
		if a := p.spec.AutomountServiceAccountToken; a == nil || *a {
			return errors.New("automountServiceAccountToken must be false: apitap never calls the Kubernetes API")
		}
		return nil
	}},
	{"resources", func(p pod) error {
		r := p.c.Resources
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, okReq := r.Requests[name]
			lim, okLim := r.Limits[name]
			if !okReq || !okLim {
				return fmt.Errorf("resources must set requests and limits of %s, got %s", name, toYAML(r))
			}
			if req.Cmp(lim) > 0 {
				return fmt.Errorf("%s request %s exceeds its limit %s", name, req.String(), lim.String())
			}
		}
		return nil
	}},
	{"tolerates every taint", func(p pod) error {
		for _, tol := range p.spec.Tolerations {
			if tol.Operator == corev1.TolerationOpExists && tol.Key == "" && tol.Effect == "" {
				return nil
			}
		}
		return fmt.Errorf("no toleration {operator: Exists} (a sensor on every node), got %s", toYAML(p.spec.Tolerations))
	}},
	{"probes", func(p pod) error {
		for _, pr := range []struct {
			probe *corev1.Probe
			kind  string
			path  string
		}{{p.c.LivenessProbe, "livenessProbe", "/healthz"}, {p.c.ReadinessProbe, "readinessProbe", "/readyz"}} {
			if pr.probe == nil || pr.probe.HTTPGet == nil {
				return fmt.Errorf("%s must be an httpGet of %s", pr.kind, pr.path)
			}
			if pr.probe.HTTPGet.Path != pr.path {
				return fmt.Errorf("%s path is %q, want %q", pr.kind, pr.probe.HTTPGet.Path, pr.path)
			}
			if port, err := containerPort(p.c, pr.probe.HTTPGet.Port.String()); err != nil || port != adminPort(p) {
				return fmt.Errorf("%s port %s is not the admin port %d (%v)", pr.kind, pr.probe.HTTPGet.Port.String(), adminPort(p), err)
			}
		}
		return nil
	}},
	{"admin server", func(p pod) error {
		addrs := p.flags["admin-addr"]
		if len(addrs) != 1 {
			return fmt.Errorf("want one --admin-addr (the default 127.0.0.1 is out of reach of probes and Prometheus), got %q", addrs)
		}
		_, port, err := net.SplitHostPort(addrs[0])
		if err != nil {
			return fmt.Errorf("--admin-addr %q: %v", addrs[0], err)
		}
		want, err := containerPort(p.c, "admin")
		if err != nil {
			return err
		}
		if port != strconv.Itoa(int(want)) {
			return fmt.Errorf("--admin-addr port %s is not the container port admin (%d)", port, want)
		}
		files := p.flags["admin-token-file"]
		if len(files) != 1 {
			return errors.New("--admin-token-file is needed: the admin server listens on the node's address")
		}
		return p.secretFile(files[0])
	}},
	{"config mounted", func(p pod) error {
		_, err := p.config()
		return err
	}},
	{"config paths mounted", func(p pod) error {
		text, err := p.config()
		if err != nil {
			return err
		}
		var cfg struct {
			Exporters struct {
				Kafka struct {
					TLS struct {
						CAFile   string `json:"ca_file"`
						CertFile string `json:"cert_file"`
						KeyFile  string `json:"key_file"`
					} `json:"tls"`
					SASL struct {
						Password     string `json:"password"`
						PasswordFile string `json:"password_file"`
					} `json:"sasl"`
					Spool struct {
						Dir string `json:"dir"`
					} `json:"spool"`
				} `json:"kafka"`
			} `json:"exporters"`
		}
		if err := yaml.Unmarshal([]byte(text), &cfg); err != nil {
			return fmt.Errorf("config.yaml: %v", err)
		}
		k := cfg.Exporters.Kafka
		if k.SASL.Password != "" {
			return errors.New("exporters.kafka.sasl.password in a ConfigMap: use password_file from a Secret")
		}
		for _, f := range []string{k.SASL.PasswordFile, k.TLS.CAFile, k.TLS.CertFile, k.TLS.KeyFile} {
			if f == "" {
				continue
			}
			if err := p.secretFile(f); err != nil {
				return err
			}
		}
		if k.Spool.Dir != "" {
			m, v := p.mount(k.Spool.Dir)
			if m == nil || v == nil {
				return fmt.Errorf("exporters.kafka.spool.dir %s is on the read-only root filesystem: mount a volume there", k.Spool.Dir)
			}
			if m.ReadOnly || (v.HostPath == nil && v.EmptyDir == nil) {
				return fmt.Errorf("exporters.kafka.spool.dir %s must be on a writable hostPath or emptyDir volume, got mount %s of %s", k.Spool.Dir, toYAML(m), toYAML(v.VolumeSource))
			}
		}
		return nil
	}},
	{"volumes", func(p pod) error {
		for _, m := range p.c.VolumeMounts {
			if p.volume(m.Name) == nil {
				return fmt.Errorf("volumeMount %s has no volume", m.Name)
			}
		}
		for _, v := range p.spec.Volumes {
			if !slices.ContainsFunc(p.c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == v.Name }) {
				return fmt.Errorf("volume %s is not mounted", v.Name)
			}
			if v.Secret != nil && (v.Secret.DefaultMode == nil || *v.Secret.DefaultMode != 0o400) {
				return fmt.Errorf("Secret volume %s: defaultMode must be 0400 (owner-only), got %s", v.Name, toYAML(v.Secret.DefaultMode))
			}
		}
		return nil
	}},
	{"selector matches the pod", func(p pod) error {
		sel := p.ds.Spec.Selector
		if sel == nil || !labels.SelectorFromSet(sel.MatchLabels).Matches(labels.Set(p.ds.Spec.Template.Labels)) {
			return fmt.Errorf("selector %s does not match the pod labels %v", toYAML(sel), p.ds.Spec.Template.Labels)
		}
		return nil
	}},
	{"service and monitor", func(p pod) error {
		for _, s := range p.b.services {
			if !labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(p.ds.Spec.Template.Labels)) {
				return fmt.Errorf("Service %s selects %v, not the sensor pods %v", s.Name, s.Spec.Selector, p.ds.Spec.Template.Labels)
			}
			for _, sp := range s.Spec.Ports {
				if _, err := containerPort(p.c, sp.TargetPort.String()); err != nil {
					return fmt.Errorf("Service %s port %s: %v", s.Name, sp.Name, err)
				}
			}
		}
		for _, sm := range p.b.serviceMonitors {
			var svc *corev1.Service
			for _, s := range p.b.services {
				if labels.SelectorFromSet(sm.Spec.Selector.MatchLabels).Matches(labels.Set(s.Labels)) {
					svc = s
				}
			}
			if svc == nil {
				return fmt.Errorf("ServiceMonitor %s selects no Service", sm.Name)
			}
			for _, ep := range sm.Spec.Endpoints {
				if !slices.ContainsFunc(svc.Spec.Ports, func(sp corev1.ServicePort) bool { return sp.Name == ep.Port }) {
					return fmt.Errorf("ServiceMonitor %s: Service %s has no port %q", sm.Name, svc.Name, ep.Port)
				}
				if ep.Authorization == nil || ep.Authorization.Credentials.Key == "" {
					return fmt.Errorf("ServiceMonitor %s: /metrics needs the admin token (authorization.credentials)", sm.Name)
				}
				cred := ep.Authorization.Credentials
				if s := p.b.secrets[cred.Name]; s != nil && !secretHas(s, cred.Key) {
					return fmt.Errorf("ServiceMonitor %s: Secret %s has no key %s", sm.Name, cred.Name, cred.Key)
				}
			}
		}
		return nil
	}},
	{"flags", func(p pod) error {
		if len(p.flags["i"]) == 0 {
			return errors.New("no -i: the interface to capture must be given")
		}
		if len(p.flags["sensor-id"]) != 1 {
			return errors.New("want --sensor-id (the node name)")
		}
		return nil
	}},
}

// podOf finds the DaemonSet and its apitap container, and parses the
// container's flags with the ones `apitap run` has.
func podOf(t *testing.T, b *bundle) pod {
	t.Helper()
	if len(b.daemonSets) != 1 {
		t.Fatalf("want one DaemonSet, got %d", len(b.daemonSets))
	}
	ds := b.daemonSets[0]
	spec := &ds.Spec.Template.Spec
	i := slices.IndexFunc(spec.Containers, func(c corev1.Container) bool { return c.Name == "apitap" })
	if i < 0 {
		t.Fatalf("DaemonSet %s has no container named apitap", ds.Name)
	}
	c := &spec.Containers[i]
	if len(c.Command) != 0 {
		t.Errorf("container command %q replaces the image's entrypoint /apitap; use args", c.Command)
	}
	flags, err := parseRunArgs(c.Args, apitapRunFlags(t))
	if err != nil {
		t.Fatalf("container args %q: %v", c.Args, err)
	}
	return pod{b: b, ds: ds, spec: spec, c: c, flags: flags}
}

// checkPod runs every podCheck as a subtest.
func checkPod(t *testing.T, p pod) {
	for _, pc := range podChecks {
		t.Run(pc.name, func(t *testing.T) {
			if err := pc.fn(p); err != nil {
				t.Error(err)
			}
		})
	}
}

// checkConfig runs `apitap config check` on the configuration the pod mounts.
func checkConfig(t *testing.T, p pod) {
	t.Run("apitap config check", func(t *testing.T) {
		text, err := p.config()
		if err != nil {
			t.Fatal(err)
		}
		if err := configCheck(t, text); err != nil {
			t.Errorf("%v\nconfig.yaml:\n%s", err, text)
		}
	})
}

func containerPort(c *corev1.Container, port string) (int32, error) {
	if n, err := strconv.Atoi(port); err == nil {
		return int32(n), nil
	}
	for _, cp := range c.Ports {
		if cp.Name == port {
			return cp.ContainerPort, nil
		}
	}
	return 0, fmt.Errorf("container %s has no port named %q", c.Name, port)
}

func adminPort(p pod) int32 {
	n, _ := containerPort(p.c, "admin")
	return n
}

func (p pod) volume(name string) *corev1.Volume {
	for i, v := range p.spec.Volumes {
		if v.Name == name {
			return &p.spec.Volumes[i]
		}
	}
	return nil
}

// mount finds the volume mount a file lives on (the longest mount path
// holding it), nil on the root filesystem.
func (p pod) mount(file string) (*corev1.VolumeMount, *corev1.Volume) {
	var best *corev1.VolumeMount
	for i, m := range p.c.VolumeMounts {
		mp := path.Clean(m.MountPath)
		if (file == mp || strings.HasPrefix(file, mp+"/")) && (best == nil || len(mp) > len(path.Clean(best.MountPath))) {
			best = &p.c.VolumeMounts[i]
		}
	}
	if best == nil {
		return nil, nil
	}
	return best, p.volume(best.Name)
}

// key is the volume key a file stands for: its path below the mount.
func key(m *corev1.VolumeMount, file string) string {
	return strings.TrimPrefix(file, path.Clean(m.MountPath)+"/")
}

// secretFile checks that a file comes from a Secret volume and, when the
// Secret is among the objects, that the Secret has that key.
func (p pod) secretFile(file string) error {
	m, v := p.mount(file)
	if m == nil || v == nil || v.Secret == nil {
		return fmt.Errorf("%s is not on a Secret volume", file)
	}
	if s := p.b.secrets[v.Secret.SecretName]; s != nil && !secretHas(s, key(m, file)) {
		return fmt.Errorf("%s: Secret %s has no key %s", file, s.Name, key(m, file))
	}
	return nil
}

func secretHas(s *corev1.Secret, k string) bool {
	_, inData := s.Data[k]
	_, inString := s.StringData[k]
	return inData || inString
}

// config returns the configuration file --config names, from its ConfigMap.
func (p pod) config() (string, error) {
	files := p.flags["config"]
	if len(files) != 1 {
		return "", fmt.Errorf("want one --config, got %q", files)
	}
	m, v := p.mount(files[0])
	if m == nil || v == nil || v.ConfigMap == nil {
		return "", fmt.Errorf("--config %s is not on a ConfigMap volume", files[0])
	}
	if m.SubPath != "" {
		return "", fmt.Errorf("--config %s: a subPath mount never sees ConfigMap updates (SIGHUP reload)", files[0])
	}
	cm := p.b.configMaps[v.ConfigMap.Name]
	if cm == nil {
		return "", fmt.Errorf("--config %s: ConfigMap %s is not among the objects", files[0], v.ConfigMap.Name)
	}
	text, ok := cm.Data[key(m, files[0])]
	if !ok {
		return "", fmt.Errorf("--config %s: ConfigMap %s has no key %s", files[0], cm.Name, key(m, files[0]))
	}
	return text, nil
}

// TestManifests checks deploy/kubernetes: every document decodes strictly,
// kustomization.yaml lists every file, and the DaemonSet keeps its promises.
func TestManifests(t *testing.T) {
	b, files := loadManifests(t)
	t.Run("kustomization lists every manifest", func(t *testing.T) {
		if len(b.kustomizations) != 1 {
			t.Fatalf("want one Kustomization, got %d", len(b.kustomizations))
		}
		var want []string
		for _, f := range files {
			if base := filepath.Base(f); base != "kustomization.yaml" {
				want = append(want, base)
			}
		}
		got := slices.Clone(b.kustomizations[0].Resources)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("kustomization.yaml resources %v, want the files %v", got, want)
		}
	})
	t.Run("namespace allows the sensor", func(t *testing.T) {
		if len(b.namespaces) != 1 {
			t.Fatalf("want one Namespace, got %d", len(b.namespaces))
		}
		ns := b.namespaces[0]
		if got := ns.Labels["pod-security.kubernetes.io/enforce"]; got != "privileged" {
			t.Errorf("namespace %s: pod-security.kubernetes.io/enforce is %q; host network and NET_RAW need privileged", ns.Name, got)
		}
		for _, ds := range b.daemonSets {
			if ds.Namespace != ns.Name {
				t.Errorf("DaemonSet %s is in namespace %q, not %q", ds.Name, ds.Namespace, ns.Name)
			}
		}
	})
	p := podOf(t, b)
	checkPod(t, p)
	checkConfig(t, p)
}

// chartCase is one set of values over the chart's defaults: the files of
// deploy/helm/apitap/ci/ (chart-testing's convention; docs/kubernetes.md
// lists them) and the defaults alone.
type chartCase struct {
	name   string
	file   string // "" for the defaults
	values map[string]any
}

// chartCases reads the value sets.
func chartCases(t *testing.T) []chartCase {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(chartDir, "ci", "*-values.yaml"))
	if err != nil || len(files) < 3 {
		t.Fatalf("value sets in %s/ci: %v %v", chartDir, files, err)
	}
	out := []chartCase{{name: "defaults"}}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		if err := yaml.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, chartCase{name: strings.TrimSuffix(filepath.Base(f), "-values.yaml"), file: f, values: v})
	}
	return out
}

// TestChart renders the chart and checks each result as the manifests.
func TestChart(t *testing.T) {
	for _, tc := range chartCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			b, out, err := renderChart(tc.values)
			if err != nil {
				t.Fatal(err)
			}
			if strings.TrimSpace(out["apitap/templates/NOTES.txt"]) == "" {
				t.Error("NOTES.txt renders empty")
			}
			p := podOf(t, b)
			checkPod(t, p)
			checkConfig(t, p)
		})
	}
}

// TestChartCorrelator: with correlator.enabled the chart adds apitap
// correlate as a Deployment next to the DaemonSet: unprivileged (no host
// network, no capability, not root), on the sensors' brokers and
// configuration; only with kafka.enabled.
func TestChartCorrelator(t *testing.T) {
	var values map[string]any
	for _, tc := range chartCases(t) {
		if tc.name == "correlator" {
			values = tc.values
		}
	}
	if values == nil {
		t.Fatal("no ci/correlator-values.yaml")
	}
	b, _, err := renderChart(values)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.deployments) != 1 || len(b.daemonSets) != 1 {
		t.Fatalf("%d Deployments and %d DaemonSets, want one of each", len(b.deployments), len(b.daemonSets))
	}
	d := b.deployments[0]
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 3 {
		t.Errorf("replicas %v, want 3", d.Spec.Replicas)
	}
	ps := d.Spec.Template.Spec
	if ps.HostNetwork || ps.SecurityContext == nil || ps.SecurityContext.RunAsNonRoot == nil || !*ps.SecurityContext.RunAsNonRoot {
		t.Error("the correlator needs neither the host network nor root")
	}
	if len(ps.Containers) != 1 {
		t.Fatalf("%d containers", len(ps.Containers))
	}
	c := ps.Containers[0]
	args := strings.Join(c.Args, " ")
	for _, want := range []string{"correlate ", "--kafka-brokers kafka.kafka.svc:9092", "--config /etc/apitap/config.yaml", "--group apitap-correlate"} {
		if !strings.Contains(args, want) {
			t.Errorf("args %q lack %q", args, want)
		}
	}
	sc := c.SecurityContext
	if sc == nil || sc.Capabilities == nil || len(sc.Capabilities.Add) != 0 || !slices.Contains(sc.Capabilities.Drop, "ALL") || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("container security context %+v: want every capability dropped and a read-only root", sc)
	}
	for _, base := range chartCases(t) {
		if base.name == "defaults" {
			if b, _, err := renderChart(base.values); err != nil || len(b.deployments) != 0 {
				t.Errorf("defaults: %d Deployments (%v), want none", len(b.deployments), err)
			}
		}
	}
	if _, _, err := renderChart(map[string]any{"correlator": map[string]any{"enabled": true}}); err == nil || !strings.Contains(err.Error(), "kafka.enabled") {
		t.Errorf("correlator without Kafka: %v, want an error naming kafka.enabled", err)
	}
}

// TestChartRefuses checks that values which can not work fail the install
// with a message instead of rendering a sensor that crashes.
func TestChartRefuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values map[string]any
		want   string
	}{
		{"kafka without brokers", map[string]any{"kafka": map[string]any{"enabled": true, "sasl": map[string]any{"password": "x"}}}, "kafka.brokers"},
		{"SASL without a password", map[string]any{"kafka": map[string]any{"enabled": true, "brokers": []any{"kafka:9093"}}}, "kafka.sasl.password"},
		{"short admin token", map[string]any{"admin": map[string]any{"token": "short"}}, "at least 16 characters"},
		{"ServiceMonitor without Service", map[string]any{"service": map[string]any{"enabled": false}, "serviceMonitor": map[string]any{"enabled": true}}, "service.enabled"},
		{"misspelt value (values.schema.json)", map[string]any{"serviceMonitor": map[string]any{"enable": true}}, "enable"},
		{"no interface", map[string]any{"interfaces": []any{}}, "interfaces"},
		{"privileged admin port", map[string]any{"admin": map[string]any{"port": 80}}, "port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := renderChart(tc.values)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("render error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

// TestChartMatchesManifests: the chart with default values and the plain
// manifests run the sensor with the same security settings, resources,
// probes and ports.
func TestChartMatchesManifests(t *testing.T) {
	mb, _ := loadManifests(t)
	cb, _, err := renderChart(nil)
	if err != nil {
		t.Fatal(err)
	}
	m, c := podOf(t, mb), podOf(t, cb)
	for _, f := range []struct {
		name       string
		plain, hlm any
	}{
		{"hostNetwork", m.spec.HostNetwork, c.spec.HostNetwork},
		{"dnsPolicy", m.spec.DNSPolicy, c.spec.DNSPolicy},
		{"automountServiceAccountToken", m.spec.AutomountServiceAccountToken, c.spec.AutomountServiceAccountToken},
		{"enableServiceLinks", m.spec.EnableServiceLinks, c.spec.EnableServiceLinks},
		{"pod securityContext", m.spec.SecurityContext, c.spec.SecurityContext},
		{"tolerations", m.spec.Tolerations, c.spec.Tolerations},
		{"nodeSelector", m.spec.NodeSelector, c.spec.NodeSelector},
		{"terminationGracePeriodSeconds", m.spec.TerminationGracePeriodSeconds, c.spec.TerminationGracePeriodSeconds},
		{"container securityContext", m.c.SecurityContext, c.c.SecurityContext},
		{"resources", m.c.Resources, c.c.Resources},
		{"env", m.c.Env, c.c.Env},
		{"ports", m.c.Ports, c.c.Ports},
		{"livenessProbe", m.c.LivenessProbe, c.c.LivenessProbe},
		{"readinessProbe", m.c.ReadinessProbe, c.c.ReadinessProbe},
		{"updateStrategy", m.ds.Spec.UpdateStrategy, c.ds.Spec.UpdateStrategy},
		{"admin address", m.flags["admin-addr"], c.flags["admin-addr"]},
		{"ring size", m.flags["ring-mb"], c.flags["ring-mb"]},
	} {
		t.Run(f.name, func(t *testing.T) {
			if !equality.Semantic.DeepEqual(f.plain, f.hlm) {
				t.Errorf("deploy/kubernetes/daemonset.yaml and the chart differ:\nplain:\n%s\nchart:\n%s", toYAML(f.plain), toYAML(f.hlm))
			}
		})
	}
	t.Run("config", func(t *testing.T) {
		// The chart's defaults leave Kafka off; the rest is the same file.
		mt, err := m.config()
		if err != nil {
			t.Fatal(err)
		}
		ct, err := c.config()
		if err != nil {
			t.Fatal(err)
		}
		var mc, cc map[string]any
		if err := yaml.Unmarshal([]byte(mt), &mc); err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal([]byte(ct), &cc); err != nil {
			t.Fatal(err)
		}
		delete(mc, "exporters")
		if !equality.Semantic.DeepEqual(mc, cc) {
			t.Errorf("configurations differ (kafka aside):\nplain:\n%s\nchart:\n%s", toYAML(mc), toYAML(cc))
		}
	})
}

// TestHelmLint runs helm lint's rules (Chart.yaml, values, templates) on
// the default values and on each chart case.
func TestHelmLint(t *testing.T) {
	for _, tc := range chartCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			l := lint.All(chartDir, tc.values, release.Namespace, false)
			for _, msg := range l.Messages {
				if msg.Severity >= support.WarningSev {
					t.Errorf("helm lint: %s", msg.Error())
				}
			}
		})
	}
}

// TestDockerfile checks that the image builds the binary as `make build`
// does and runs it as its entrypoint (Docker is not needed).
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	for _, want := range []string{
		"CGO_ENABLED=0 go build -trimpath",
		"./sensor/cmd/apitap",
		"FROM gcr.io/distroless/static-debian12:nonroot",
		`ENTRYPOINT ["/apitap"]`,
	} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}
