# pkgstore in the Elastic Package Registry's image layout: the same
# WORKDIR, config.yml, package folder, port, user and entrypoint, so that an
# EPR deployment (ECK's ElasticPackageRegistry, existing manifests) only
# changes the image name. The entrypoint runs pkgstore's package-registry
# personality (EPR's flags, EPR_* variables and config.yml: docs/epr-dropin.md);
# `pkgstore` as the first argument gives pkgstore's own commands
# (`docker run IMAGE pkgstore job index`).
#
# CI cannot run Docker: deploy/image_test.go builds the same image offline
# from this file's final stage (WORKDIR, USER, EXPOSE, ENV, ENTRYPOINT and
# the COPY destinations are read from here) and checks it.

ARG GO_VERSION=1.26.8

# Build a static binary.
FROM golang:${GO_VERSION} AS builder
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -tags disable_grpc_modules -ldflags="-s -w" -o /out/pkgstore ./cmd/pkgstore && \
    mkdir -p /out/packages && \
    printf 'package-registry:x:1000:1000:package-registry:/package-registry:/sbin/nologin\n' > /out/passwd && \
    printf 'package-registry:x:1000:\n' > /out/group

# Run it: nothing but the binary, its configuration and CA certificates
# (proxy mode and cloud buckets speak HTTPS).
FROM scratch
COPY --from=builder /out/passwd /etc/passwd
COPY --from=builder /out/group /etc/group
COPY --from=builder /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=builder --chown=1000:1000 /out/pkgstore /package-registry/package-registry
COPY deploy/image/config.yml /package-registry/config.yml
COPY --from=builder --chown=1000:1000 /out/packages /packages/package-registry
WORKDIR /package-registry
USER 1000:1000
EXPOSE 8080
ENV EPR_ADDRESS=0.0.0.0:8080
ENTRYPOINT ["./package-registry"]
