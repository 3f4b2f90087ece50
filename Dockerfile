# apitap container image: one static binary on distroless.
#   docker build -t apitap:dev .
#   docker build --build-arg VERSION=v0.1.0 -t ghcr.io/apitap/apitap:v0.1.0 .
# Deployment (DaemonSet, Helm chart, capabilities): docs/kubernetes.md.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# VERSION, when given, replaces the version `apitap version` prints.
ARG VERSION=""
# As `make build`: CGO_ENABLED=0 gives one static binary, which also lets
# apitap drop its capabilities on every thread once capture is set up (a cgo
# build, -tags pcap, can not). No libpcap in this image: --source afpacket.
RUN ldflags="-s -w"; \
    if [ -n "$VERSION" ]; then ldflags="$ldflags -X github.com/apitap/apitap/sensor/cli.Version=$VERSION"; fi; \
    CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags "$ldflags" -o /out/apitap ./sensor/cmd/apitap

# static-debian12:nonroot: CA certificates (Kafka TLS), tzdata, /etc/passwd,
# no shell, user 65532. `apitap read`, `catalog`, `diff`, `report` and
# `blocklist` run as that user; the capture DaemonSet sets runAsUser: 0 with
# only the capture capabilities (docs/kubernetes.md says why).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/apitap /apitap
USER 65532:65532
ENTRYPOINT ["/apitap"]
CMD ["help"]
