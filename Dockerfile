# Tessera's container image.
#
#   docker build -t tessera .                                  # on the public Node 24 image
#   docker build --build-arg BASE_IMAGE=my/node:24 -t tessera .  # on any Debian-like image with node + npm
#   docker run --rm -p 8080:8080 -p 8081:8081 -p 8082:8082 -v "$PWD/models:/mnt/models:ro" tessera
#
# Two stages: `build` installs every dependency and compiles TypeScript to dist/; the image keeps
# dist/ and the production dependencies only (the server runs compiled JavaScript; tsx, a
# dependency, is only loaded for a custom runtime written in TypeScript).
#
# Container defaults (all overridable, see README "Deploying"):
#   - serves the model repository at /mnt/models (CMD `start /mnt/models`; KServe mounts models
#     there); `serve` (SageMaker contract, as MLflow's images) serves /opt/ml/model;
#   - listens on 0.0.0.0 (TESSERA_HOST below: the server's own default is 127.0.0.1, this machine
#     only, which a container's published ports could not reach): HTTP 8080, gRPC 8081, metrics
#     8082 (the server's defaults, so TESSERA_* / MLSERVER_* variables such as KServe's
#     MLSERVER_GRPC_PORT=9000 still apply);
#   - runs as the unprivileged user 10001:10001 and writes nothing to its file system, so
#     `--read-only` (Kubernetes readOnlyRootFilesystem) works without a writable /tmp;
#   - node is PID 1 and handles SIGTERM itself: in-flight requests finish, then exit 0.
#
# Needs BuildKit (the default builder since Docker 23; DOCKER_BUILDKIT=1 before) for the build
# secret below. The build needs the npm registry (npm ci): with a daemon without a bridge, build
# with `--network host`. Nothing is downloaded in the final stage.

# The base must provide node (>= 20.19; the image is meant for the current LTS, 24) and, for the
# build stage, npm. Node 20 reached end of life in April 2026.
ARG BASE_IMAGE=node:24-bookworm-slim

FROM ${BASE_IMAGE} AS build
WORKDIR /src
# onnxruntime-node's install script would download a CUDA provider; the CPU runtime is in the
# npm package. Install scripts are skipped altogether (none is needed to build or run).
ENV ONNXRUNTIME_NODE_INSTALL=skip \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false
COPY package.json package-lock.json .npmrc ./
# Behind a TLS-intercepting proxy, pass its CA bundle as a build secret (never stored in a layer):
#   docker build --secret id=npm_ca,src=/etc/ssl/certs/ca-certificates.crt ...
RUN --mount=type=secret,id=npm_ca \
    if [ -s /run/secrets/npm_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm_ca; fi \
 && npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.mjs scripts/build-state.mjs scripts/
COPY src/ src/
# Compile, drop the dev dependencies, and keep only this platform's ONNX Runtime binaries
# (onnxruntime-node carries every OS and CPU: ~290 MB, of which linux/x64 is ~45 MB).
RUN node scripts/build.mjs \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
 && keep="$(node -p 'process.platform + "/" + process.arch')" \
 && for dir in node_modules/onnxruntime-node/bin/napi-v*/*/*; do \
      case "$dir" in */"$keep") ;; *) rm -rf "$dir" ;; esac; \
    done \
 && test -n "$(ls node_modules/onnxruntime-node/bin/napi-v*/"$keep"/*.node)"

FROM ${BASE_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="tessera" \
      org.opencontainers.image.description="V2 / Open Inference Protocol model server (HTTP 8080, gRPC 8081, metrics 8082)" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
# A fixed numeric user, so Kubernetes' runAsNonRoot can verify it without a runAsUser.
RUN groupadd --system --gid 10001 tessera \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin tessera
WORKDIR /opt/tessera
# Every interface: a container is reached through its published ports. Override with
# -e TESSERA_HOST=... or --host.
ENV NODE_ENV=production \
    TESSERA_HOST=0.0.0.0
COPY --from=build /src/node_modules/ node_modules/
COPY --from=build /src/dist/ dist/
COPY package.json ./
COPY proto/ proto/
COPY settings/ settings/
COPY bin/tessera.mjs bin/container-entrypoint.mjs bin/healthcheck.mjs bin/
USER 10001:10001
EXPOSE 8080 8081 8082
# Ready = at least one model loaded (GET /v2/health/ready); large models get the start period.
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 CMD ["node", "/opt/tessera/bin/healthcheck.mjs"]
ENTRYPOINT ["node", "/opt/tessera/bin/container-entrypoint.mjs"]
CMD ["start", "/mnt/models"]
