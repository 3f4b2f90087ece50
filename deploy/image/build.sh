#!/usr/bin/env bash
# make image: the apitap OCI image from the static binary, with buildah
# (daemonless) and nothing pulled: FROM scratch, the binary, the CA
# certificates of this machine's ca-certificates package, a passwd/group
# naming the non-root user 65532. Writes an OCI archive (docs/kubernetes.md).
#   deploy/image/build.sh OUT.tar [VERSION]   (default: git describe, or v0.1.0-dev-COMMIT)
set -euo pipefail
out=$1
cd "$(dirname "$0")/../.."
version=${2:-$(git describe --tags --dirty 2>/dev/null || echo "v0.1.0-dev-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)")}
command -v buildah >/dev/null || { echo "make image needs buildah (Debian package buildah; .ci/run installs it)" >&2; exit 1; }
ca=/etc/ssl/certs/ca-certificates.crt
[ -f "$ca" ] || { echo "make image needs $ca (Debian package ca-certificates)" >&2; exit 1; }
if [ "$(id -u)" != 0 ] && [ -z "${_APITAP_UNSHARED:-}" ]; then
	# buildah needs a user namespace to own files as root in the image
	exec env _APITAP_UNSHARED=1 buildah unshare "$0" "$@"
fi
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
# the commit's time: the same sources give the same image
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)

work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
root=$work/rootfs
mkdir -p "$root/etc/ssl/certs" "$root/tmp"
CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags "-s -w -X github.com/apitap/apitap/sensor/cli.Version=$version" -o "$root/apitap" ./sensor/cmd/apitap
cp "$ca" "$root/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/:/sbin/nologin\napitap:x:65532:65532:apitap:/:/sbin/nologin\n' >"$root/etc/passwd"
printf 'root:x:0:\napitap:x:65532:\n' >"$root/etc/group"
chmod 1777 "$root/tmp"
find "$root" -exec touch -h -d "@$epoch" {} +

b=(buildah --root "$work/storage" --runroot "$work/run" --storage-driver vfs)
ctr=$("${b[@]}" from --quiet scratch)
"${b[@]}" copy --quiet "$ctr" "$root/" /
"${b[@]}" config \
	--user 65532:65532 --workingdir / \
	--entrypoint '["/apitap"]' --cmd help \
	--env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
	--port 9090/tcp \
	--label org.opencontainers.image.title=apitap \
	--label "org.opencontainers.image.description=Passive API security sensor" \
	--label org.opencontainers.image.source=https://github.com/apitap/apitap \
	--label "org.opencontainers.image.version=$version" \
	--label "org.opencontainers.image.revision=$revision" \
	--label "org.opencontainers.image.created=$created" \
	"$ctr"
mkdir -p "$(dirname "$out")"
rm -f "$out"
"${b[@]}" commit --quiet --format oci --timestamp "$epoch" --rm "$ctr" "oci-archive:$out:apitap:$version" >/dev/null
echo "image apitap:$version written to $out ($(du -h "$out" | cut -f1))"
