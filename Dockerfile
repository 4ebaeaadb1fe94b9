# syntax=docker/dockerfile:1
# One build for both services; pick one with --target worker or --target api
# (docker-compose.yml does). Without --target you get the API.

# The patch release go.mod names: the image's GOTOOLCHAIN=local fetches no other.
FROM golang:1.26.8 AS build
WORKDIR /src
# No separate `go mod download` layer: it would also fetch the go.mod tools'
# (go-task's) large dependency tree. The cache mounts keep modules and build
# cache across builds instead.
COPY . .
# The commit every run and model records (internal/version). The build context
# has no .git (see .dockerignore), so it is passed in:
#   PRODCAT_COMMIT=$(git rev-parse --short=12 HEAD) docker compose build
ARG PRODCAT_COMMIT=unknown
# Static binaries (no libc in the runtime image needed). -buildvcs=false: there
# is no .git to stamp from.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -buildvcs=false \
    -ldflags="-s -w -X github.com/prodcat/prodcat/internal/version.commit=${PRODCAT_COMMIT}" -o /out/ ./worker ./api

# Alpine rather than distroless: the API's healthcheck needs wget, and
# ca-certificates lets S3_USE_TLS=true reach a real S3.
FROM alpine:3.22 AS runtime
RUN apk add --no-cache ca-certificates tzdata \
    && addgroup -S -g 10001 prodcat \
    && adduser -S -D -H -u 10001 -G prodcat prodcat
USER 10001:10001

FROM runtime AS worker
COPY --from=build /out/worker /usr/local/bin/prodcat-worker
# /metrics and /healthz, when PRODCAT_WORKER_METRICS_ADDR is set (compose sets 0.0.0.0:9464).
EXPOSE 9464
ENTRYPOINT ["/usr/local/bin/prodcat-worker"]

FROM runtime AS api
COPY --from=build /out/api /usr/local/bin/prodcat-api
# In a container the API must listen on all interfaces, not the host default 127.0.0.1.
ENV PRODCAT_API_ADDR=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/prodcat-api"]
