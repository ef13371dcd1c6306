# The csi-snapshotter sidecar image.
#
#   docker build -t csi-snapshotter-ts .
#
# The Node.js base image is named once, here. Its version is the one the `node` devDependency pins
# in package.json, so the image runs the sidecar on the Node the tests ran it on.
ARG NODE_IMAGE=node:24.21.0-bookworm-slim

# 1. Compile the sidecar (TypeScript to JavaScript) and bundle it with its dependencies into one
#    file (scripts/bundle.mjs). Everything here stays in this stage.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts/gen-csi-types.mjs scripts/bundle.mjs ./scripts/
COPY proto ./proto
# Scripts are skipped (protobufjs's postinstall prints a version-scheme hint; the `node`
# devDependency's preinstall would download the Node binary this image already has, so without it
# `npm run gen` and tsc run on the image's Node); the CSI types are then generated explicitly.
RUN npm ci --ignore-scripts --no-audit --no-fund && npm run gen
COPY tsconfig.json tsconfig.image.json ./
COPY src ./src
# tsconfig.image.json compiles src/ without the test kit (src/testing) and without the tests; the
# bundle is made of that output.
RUN npx tsc -p tsconfig.image.json && node scripts/bundle.mjs

# 2. Production dependencies only, without TypeScript declarations and source maps (about half of
#    their size; Node never reads them), and a package.json without scripts, bin entries (they name
#    test-kit programs that are not in the image) and devDependencies.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && find node_modules -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' \) -delete \
 && npm pkg delete scripts bin devDependencies

# 3. The runtime: Node, the production dependencies (the bundle holds them; they stay for what a
#    dependency loads by a computed name at run time), the CSI proto (read at start-up) and the
#    bundled sidecar. Files belong to root and are only read: the root filesystem may be read-only.
FROM ${NODE_IMAGE}
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /app/package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY proto ./proto
COPY --from=build /app/dist/bundle ./dist/bundle
# A numeric user (no name to resolve), not root; Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
# Exec form, no CMD: a pod's `args:` (a chart's csi-snapshotter flags) are passed to the sidecar as is.
# The V8 options are src/node-flags.ts's NODE_FLAGS (a test checks they match): a young generation
# of 2 × 2 MiB instead of one that grows to 2 × 16 MiB (BENCHMARKS.md).
ENTRYPOINT ["node", "--max-semi-space-size=2", "/app/dist/bundle/csi-snapshotter.js"]
