#!/bin/sh
# The image's entry point. The first argument (else $SERVICE) names the service to run:
#   capture-agent | aggregator | publisher | control-plane
# `flowlogs <command>` runs the command-line tool (the agent service: `flowlogs agent --config FILE`).
# Any other command is run as given, e.g. `sh` or
#   node --import tsx deploy/docker/demo-pcap.ts /captures/sample.pcap
set -eu
cd /app
service="${1:-${SERVICE:-}}"
case "$service" in
  capture-agent|aggregator|publisher|control-plane)
    [ "$#" -gt 0 ] && shift
    # The service's Node flags, as libs/runtime/src/node-flags.ts lists them (a test checks the two agree).
    flags=""
    [ "$service" = publisher ] && flags="--max-semi-space-size=64"
    # exec: node is the container's main process and gets SIGTERM from `docker stop`.
    exec node $flags --import tsx "services/$service/src/main.ts" "$@"
    ;;
  flowlogs)
    # The command-line tool, e.g. `flowlogs agent --config /etc/flowlogs/agent.json [--check]`.
    shift
    exec node /app/cli/bin.mjs "$@"
    ;;
  "")
    echo "usage: <capture-agent|aggregator|publisher|control-plane> (or set SERVICE), flowlogs <command>, or a command to run" >&2
    exit 64
    ;;
  *)
    exec "$@"
    ;;
esac
