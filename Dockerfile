# syntax=docker/dockerfile:1
#
# scopegate container image.
#   docker build -t scopegate .
#   docker run --read-only -v "$PWD/config.yaml:/etc/scopegate/config.yaml:ro" scopegate
#
# Three stages:
#   build  -- all dependencies (dev included: typescript, ts-proto, @bufbuild/buf), runs `npm run build`
#             (buf generate -> src/gen, then tsc -> dist/).
#   deps   -- production dependencies only. `npm ci --omit=dev` also keeps out the `node` devDependency
#             (the npm package node@24, which downloads a second Node binary) and its install script.
#             --ignore-scripts: no production dependency needs an install script to work.
#   runtime -- distroless Node 24: no shell, no package manager; runs as uid/gid 65532 (distroless
#             "nonroot"). The application's files are owned by root (COPY without --chown) and only
#             readable by 65532, so a compromised process cannot rewrite its own code or dependencies.
#             Nothing is written to the filesystem at run time (no npm cache, no temp files), so the
#             image runs with a read-only root filesystem (`docker run --read-only`, Kubernetes
#             readOnlyRootFilesystem: true). The unix socket lives in a mounted volume (/run/scopegate
#             in the manifests).
#
# Base images are pinned by digest (the tag is kept for readability; with both, Docker uses the digest):
#   node:24.18.1-bookworm-slim -- the multi-platform index digest Docker's official-images project publishes
#     for that tag (github.com/docker-library/repo-info, repos/node/remote/24.18.1-bookworm-slim.md).
#   gcr.io/distroless/nodejs24-debian12:nonroot -- re-pin with
#     `crane digest gcr.io/distroless/nodejs24-debian12:nonroot` (or `docker buildx imagetools inspect`)
#     and check the signature: `cosign verify $IMAGE --certificate-oidc-issuer https://accounts.google.com
#     --certificate-identity keyless@distroless.iam.gserviceaccount.com` (GoogleContainerTools/distroless README).
# Bump both together; test/deploy/dockerfile.test.ts requires every FROM to carry a digest.

FROM node:24.18.1-bookworm-slim@sha256:235600a8101ab264e117b1768e925532262668dc9b581ef1dd7d96ced463b8e7 AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json buf.yaml buf.gen.yaml ./
COPY proto ./proto
COPY scripts ./scripts
COPY src ./src
RUN npm run build

FROM node:24.18.1-bookworm-slim@sha256:235600a8101ab264e117b1768e925532262668dc9b581ef1dd7d96ced463b8e7 AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM gcr.io/distroless/nodejs24-debian12:nonroot@sha256:14d42e2511532589a7c7e01a753667a74fcc96266e137e8125006b87b0c32d0a AS runtime
WORKDIR /app
# Heap limits: V8's defaults let RSS grow to ~400 MB under load although the live heap stays under ~40 MB
# with 10,000 tenants cached (docs/benchmarks.md, memory rows). A capped old generation keeps a sidecar's RSS
# near its working set; raise it for very large tenant counts. The young generation is 16 MB per semi-space, not
# 4: at 4 MB ~4 KB per check through Envoy was promoted and the old generation needed a mark-compact about once a
# second; 16 MB cut GC pause time and CPU per check in both measured runs, by an amount that varied
# (docs/benchmarks.md, "Issue 15"; `npm run bench -- --only tail` reproduces it). These are
# the flags `npm run bench` measures (BOUNDED_HEAP in scripts/bench/phase-memory.ts) and the Kubernetes
# manifests set (their NODE_OPTIONS replaces this one); test/deploy/heap-flags.test.ts keeps them equal.
# MALLOC_ARENA_MAX=2: glibc otherwise gives each thread that allocates (V8's workers, libuv's pool) its own
# arena, and freed memory stays there; the bench's memory row runs with it too (SHIPPED_ENV).
ENV NODE_ENV=production \
    SCOPEGATE_CONFIG=/etc/scopegate/config.yaml \
    MALLOC_ARENA_MAX=2 \
    NODE_OPTIONS="--max-semi-space-size=16 --max-old-space-size=128"
# package.json is needed at run time: its "type": "module" makes Node load dist/*.js as ES modules.
# No --chown: root owns the code; the runtime user only reads it.
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER 65532:65532
# gRPC Check (+ health), HTTP health/metrics, and the health-only gRPC probe port; what is bound where comes from the config.
EXPOSE 9191 9192 9193
# `scopegate serve`; the config path comes from SCOPEGATE_CONFIG, or append `--config <path>` as args.
ENTRYPOINT ["/nodejs/bin/node", "dist/main.js", "serve"]
