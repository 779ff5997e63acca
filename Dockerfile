# One image for the four services; the command names the service (deploy/docker/entrypoint.sh):
#   docker build -t flowlogs .
#   docker run --rm flowlogs control-plane      # or capture-agent, aggregator, publisher
# There is no build step: TypeScript runs through tsx, a production dependency of the cli workspace.
# Node 20 comes from Debian trixie (20.19); the runtime stage gets the production dependencies only
# (npm ci --omit=dev: no vitest, testcontainers or playwright, no node-gyp, no compilers, not even npm).
ARG DEBIAN_IMAGE=debian:trixie-slim

# Every workspace's package.json, found rather than listed, so a new workspace needs no edit here.
# Only these manifests and the lock reach the install layer: changing sources keeps npm ci cached.
FROM ${DEBIAN_IMAGE} AS manifests
WORKDIR /src
COPY . .
RUN mkdir /out \
 && cp package-lock.json /out/ \
 && find . -name node_modules -prune -o -name package.json -exec cp --parents -t /out {} +

FROM ${DEBIAN_IMAGE} AS modules
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=manifests /out/ ./
# --ignore-scripts: the production dependencies need no install script (their native parts are prebuilt).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf /root/.npm

FROM ${DEBIAN_IMAGE}
# tcpdump (libpcap) for the capture agent's live and nflog sources. It gets the two capabilities it
# uses as file capabilities, so the agent runs as the unprivileged user too: the container must be
# given them (cap_add: NET_RAW, NET_ADMIN) or tcpdump does not start.
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs tcpdump libcap2-bin \
 && setcap cap_net_raw,cap_net_admin=eip /usr/bin/tcpdump \
 && apt-get purge -y libcap2-bin \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin flowlogs

WORKDIR /app
# Installed and copied as root, run as `flowlogs`: the service cannot change its own code or modules.
COPY --from=modules /app/ ./
COPY tsconfig*.json README.md ./
COPY libs libs
COPY services services
COPY cli cli
COPY deploy deploy

USER flowlogs
# Control plane HTTP; capture-agent, aggregator and publisher /healthz and /metrics.
EXPOSE 8080 9101 9102 9103
ENTRYPOINT ["/bin/sh", "/app/deploy/docker/entrypoint.sh"]
