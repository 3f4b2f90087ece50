// Package deploytest checks the Kubernetes deployment artifacts: the plain
// manifests in deploy/kubernetes and the Helm chart in deploy/helm/apitap.
//
// It sits outside the sensor pipeline and holds only tests. They decode every
// manifest strictly into the Kubernetes API types (an unknown or misspelt
// field is an error), render the chart with its default values and with a
// few overrides, and check on each result the security settings that
// docs/kubernetes.md promises: host network, not privileged, no privilege
// escalation, read-only root filesystem, capabilities dropped but for
// NET_RAW, NET_ADMIN, BPF and PERFMON, seccomp, resources, tolerations and
// probes. They build the apitap binary of the parent module once, check the
// configuration in every ConfigMap with `apitap config check` and the
// container's flags against `apitap help run`.
//
// It is a module of its own (github.com/apitap/apitap/deploy/test) so that
// the apitap module does not depend on the Kubernetes API or Helm. Run it
// with `cd deploy/test && go test ./...` (make test does). Tests run
// sequentially; the binary is built once, under a temporary directory
// removed by TestMain.
package deploytest
