# One small static image for both containers of the operator's pod: /manager (the reconcilers)
# and /receiver (the webhook receiver sidecar). Build: make docker-build IMG=<registry>/coex-operator:<tag>
FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so source edits do not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY api/ api/
COPY cmd/ cmd/
COPY controllers/ controllers/
COPY internal/ internal/
ARG TARGETOS=linux
ARG TARGETARCH=amd64
# Static binaries (no cgo): the runtime image has no libc.
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -ldflags="-s -w" -o /out/manager ./cmd/manager && \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -ldflags="-s -w" -o /out/receiver ./cmd/receiver

FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/manager /out/receiver /
USER 65532:65532
ENTRYPOINT ["/manager"]
