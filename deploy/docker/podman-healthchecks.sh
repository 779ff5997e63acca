#!/bin/sh
# Podman started without systemd (no timers) never runs a container's healthcheck by itself, so
# `depends_on: condition: service_healthy` and `up --wait` would wait forever. This runs the checks of
# the containers that are not healthy yet (of one compose project when given), every 2 seconds:
#   sh deploy/docker/podman-healthchecks.sh [project] &
# A container that has turned healthy is not checked again (each check of the Kafka broker is a JVM).
set -u
filter=${1:+--filter label=com.docker.compose.project=$1}
while :; do
  # shellcheck disable=SC2086
  for id in $(podman ps -q $filter --filter health=starting) $(podman ps -q $filter --filter health=unhealthy); do
    podman healthcheck run "$id" >/dev/null 2>&1 || true
  done
  sleep 2
done
