# Build the manager binary.
FROM golang:1.26 AS builder
ARG TARGETOS
ARG TARGETARCH

WORKDIR /workspace
# Module downloads first, so a source change does not invalidate the cached dependency layer.
COPY go.mod go.mod
COPY go.sum go.sum
RUN go mod download

# The packages cmd/manager is built from (.dockerignore keeps tests and tools out of the context).
COPY api/ api/
COPY cmd/ cmd/
COPY controllers/ controllers/
COPY internal/ internal/
COPY operator/ operator/

# GOARCH is left empty when TARGETARCH is unset, so the image builds for the host's platform; with
# `docker buildx --platform` it cross-compiles.
RUN CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} go build -trimpath -o manager ./cmd/manager

# distroless/static: no shell, no package manager; nonroot runs as 65532.
# More info: https://github.com/GoogleContainerTools/distroless
FROM gcr.io/distroless/static:nonroot
WORKDIR /
COPY --from=builder /workspace/manager .
USER 65532:65532

ENTRYPOINT ["/manager"]
