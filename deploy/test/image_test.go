package deploytest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// ociFile reads one file of an OCI image archive (a tar of the OCI layout).
func ociFile(archive, name string) ([]byte, error) {
	f, err := os.Open(archive)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", archive, name, err)
		}
		if path.Clean(h.Name) == name {
			return io.ReadAll(tr)
		}
	}
}

func blob(archive, digest string) ([]byte, error) {
	return ociFile(archive, "blobs/"+strings.Replace(digest, ":", "/", 1))
}

// TestImage checks the image `make image` built (APITAP_IMAGE names the OCI
// archive; .ci/run sets it): its configuration (entrypoint, non-root user,
// labels with the version, the CA certificates' variable), its files (the
// static binary, CA certificates, passwd and group, nothing else: no
// shell), and that the binary taken out of it runs: `apitap version`
// prints the image's version.
func TestImage(t *testing.T) {
	archive := os.Getenv("APITAP_IMAGE")
	if archive == "" {
		t.Skip("no image to check: run make image, then APITAP_IMAGE=$PWD/bin/apitap-image.tar (make image-check does both; needs buildah)")
	}
	var index struct {
		Manifests []struct{ Digest string }
	}
	b, err := ociFile(archive, "index.json")
	if err == nil {
		err = json.Unmarshal(b, &index)
	}
	if err != nil || len(index.Manifests) != 1 {
		t.Fatalf("index.json: %v, %d manifests", err, len(index.Manifests))
	}
	var manifest struct {
		MediaType string
		Config    struct{ Digest string }
		Layers    []struct{ Digest, MediaType string }
	}
	if b, err = blob(archive, index.Manifests[0].Digest); err == nil {
		err = json.Unmarshal(b, &manifest)
	}
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Architecture, OS string
		Config           struct {
			User       string
			Entrypoint []string
			Cmd        []string
			Env        []string
			Labels     map[string]string
		}
	}
	if b, err = blob(archive, manifest.Config.Digest); err == nil {
		err = json.Unmarshal(b, &cfg)
	}
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Config
	version := c.Labels["org.opencontainers.image.version"]
	for _, check := range []struct {
		ok   bool
		what string
	}{
		{cfg.OS == "linux" && cfg.Architecture != "", "linux image"},
		{c.User == "65532:65532", "user 65532:65532 (non-root)"},
		{slices.Equal(c.Entrypoint, []string{"/apitap"}), `entrypoint ["/apitap"]`},
		{slices.Contains(c.Env, "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"), "SSL_CERT_FILE"},
		{version != "", "label org.opencontainers.image.version"},
		{c.Labels["org.opencontainers.image.source"] != "" && c.Labels["org.opencontainers.image.revision"] != "" && c.Labels["org.opencontainers.image.created"] != "", "labels source, revision, created"},
	} {
		if !check.ok {
			t.Errorf("image config: want %s, got %+v", check.what, cfg)
		}
	}
	files := map[string][]byte{}
	for _, l := range manifest.Layers {
		b, err := blob(archive, l.Digest)
		if err != nil {
			t.Fatal(err)
		}
		var r io.Reader = bytes.NewReader(b)
		if strings.HasSuffix(l.MediaType, "+gzip") {
			if r, err = gzip.NewReader(r); err != nil {
				t.Fatal(err)
			}
		}
		tr := tar.NewReader(r)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Typeflag == tar.TypeReg {
				data, _ := io.ReadAll(tr)
				files[path.Clean("/"+h.Name)] = data
				if h.Name == "apitap" && h.Mode&0o111 == 0 {
					t.Error("/apitap is not executable")
				}
			}
		}
	}
	var names []string
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	if want := []string{"/apitap", "/etc/group", "/etc/passwd", "/etc/ssl/certs/ca-certificates.crt"}; !slices.Equal(names, want) {
		t.Errorf("image files %v, want %v", names, want)
	}
	if !bytes.Contains(files["/etc/passwd"], []byte(":65532:65532:")) || !bytes.Contains(files["/etc/ssl/certs/ca-certificates.crt"], []byte("BEGIN CERTIFICATE")) {
		t.Error("passwd without user 65532, or no CA certificates")
	}
	bin := filepath.Join(t.TempDir(), "apitap")
	if err := os.WriteFile(bin, files["/apitap"], 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "apitap "+version+" ") {
		t.Fatalf("apitap version from the image: %v %q, want apitap %s", err, out, version)
	}
	if fo, _ := exec.Command("file", bin).Output(); len(fo) > 0 && !bytes.Contains(fo, []byte("statically linked")) {
		t.Errorf("the binary is not static: %s", fo)
	}
	t.Logf("image %s: %d layer(s), user %s, apitap version says %s", version, len(manifest.Layers), c.User, strings.TrimSpace(string(out)))
}
