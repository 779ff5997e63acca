# syntax=docker/dockerfile:1
# One image for the four services; the command names the service (deploy/docker/entrypoint.sh):
#   docker build -t flowlogs .
#   docker run --rm flowlogs control-plane      # or capture-agent, aggregator, publisher
# There is no build step: TypeScript runs through tsx, which is why the full `npm ci` is installed
# (tsx is a dependency of the cli and libs/local-kafka workspaces and a devDependency of the root).

# Every workspace's package.json, found rather than listed, so a new workspace needs no edit here.
# Only these manifests and the lock reach the install layer: changing sources keeps npm ci cached.
FROM node:20-bookworm-slim AS manifests
WORKDIR /src
COPY . .
RUN mkdir /out \
 && cp package-lock.json /out/ \
 && find . -name node_modules -prune -o -name package.json -exec cp --parents -t /out {} +

FROM node:20-bookworm-slim
# libpcap and tcpdump for the capture agent's live sources.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpcap0.8 tcpdump \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# Installed and copied as root, run as `node`: the service cannot change its own code or modules.
COPY --from=manifests /out/ ./
RUN npm ci --no-audit --no-fund \
 && npm cache clean --force
COPY tsconfig*.json README.md ./
COPY libs libs
COPY services services
COPY cli cli
COPY deploy deploy

USER node
# Control plane HTTP; capture-agent, aggregator and publisher /healthz and /metrics.
EXPOSE 8080 9101 9102 9103
ENTRYPOINT ["/bin/sh", "/app/deploy/docker/entrypoint.sh"]
