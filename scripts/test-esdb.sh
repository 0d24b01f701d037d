#!/usr/bin/env bash
# npm run test:esdb — runs the EventStore conformance suite against REAL EventStoreDB servers in
# Docker (issue 26, item 9): a single node of 23.10 and of 24.10, then a 3-node 24.10 cluster,
# whose leader is stopped half way so the suite runs again after an election. Every server is
# insecure and in memory (--insecure --mem-db) and is removed on exit.
#
# The suite reads ESDB_CONNECTION_STRING (test/support/services.ts); REQUIRE_SERVICES makes an
# unreachable server a failure instead of a skip. PostgreSQL must answer as for `npm test`.
#
# Images: docker.eventstore.com is where Event Store publishes since 24.10 (its installation
# docs); 23.10 is the community image on the same registry. Override with ESDB_IMAGE_23 / _24.
# Choose what runs with ESDB_TARGETS (default "23.10 24.10 cluster").
#
# Not yet run anywhere: the machines Proofline is developed on have no Docker (docs/eventstoredb.md).
set -euo pipefail

IMAGE_23=${ESDB_IMAGE_23:-docker.eventstore.com/eventstore-ce/eventstoredb-ce:23.10.0-jammy}
IMAGE_24=${ESDB_IMAGE_24:-docker.eventstore.com/eventstore/eventstoredb-ee:24.10.0-x64-8.0-bookworm-slim}
TARGETS=${ESDB_TARGETS:-"23.10 24.10 cluster"}
SUITE=(test/conformance/eventstoredb-server.conformance.spec.ts)
RUN_ID="proofline-esdb-$$"
STARTED=()

fail() { echo "test:esdb: $*" >&2; exit 2; }

command -v docker >/dev/null 2>&1 || fail "no 'docker' command on this machine: this script needs a Docker engine to start EventStoreDB. Nothing was run."
docker info >/dev/null 2>&1 || fail "'docker info' failed: the Docker engine is not running or not reachable by this user. Nothing was run."
command -v curl >/dev/null 2>&1 || fail "no 'curl' command: it is used to wait for EventStoreDB's health endpoint."

cleanup() {
  for container in "${STARTED[@]}"; do docker rm -f "$container" >/dev/null 2>&1 || true; done
  docker network rm "$RUN_ID" >/dev/null 2>&1 || true
}
trap cleanup EXIT

wait_live() { # port
  for _ in $(seq 1 90); do
    if curl --fail --silent "http://127.0.0.1:$1/health/live" >/dev/null; then return 0; fi
    sleep 1
  done
  fail "EventStoreDB on port $1 was not live within 90 s (docker logs of $RUN_ID-* say why)"
}

run_suite() { # label, connection string
  echo "== $1: ${SUITE[*]} against $2"
  ESDB_CONNECTION_STRING="$2" REQUIRE_SERVICES=postgres,eventstoredb npm test -- "${SUITE[@]}"
}

single_node() { # version, image, host port
  local name="$RUN_ID-$1"
  STARTED+=("$name")
  docker run -d --rm --name "$name" -p "127.0.0.1:$3:2113" "$2" --insecure --mem-db --run-projections=None >/dev/null
  wait_live "$3"
  run_suite "EventStoreDB $1 single node ($2)" "esdb://127.0.0.1:$3?tls=false"
  docker rm -f "$name" >/dev/null
}

leader_port() { # ports...
  for port in "$@"; do
    # /info names the node's state (leader, follower, …).
    if curl --fail --silent "http://127.0.0.1:$port/info" | grep -qi '"state" *: *"leader"'; then echo "$port"; return 0; fi
  done
  return 1
}

cluster() { # image
  docker network create "$RUN_ID" >/dev/null
  local ports=(2121 2122 2123) seeds="$RUN_ID-n1:2113,$RUN_ID-n2:2113,$RUN_ID-n3:2113"
  for i in 1 2 3; do
    local name="$RUN_ID-n$i" port=${ports[$((i - 1))]}
    STARTED+=("$name")
    # Clients outside the Docker network connect to 127.0.0.1:<published port>, so each node advertises that.
    docker run -d --rm --name "$name" --hostname "$name" --network "$RUN_ID" -p "127.0.0.1:$port:2113" \
      -e EVENTSTORE_CLUSTER_SIZE=3 -e EVENTSTORE_DISCOVER_VIA_DNS=false -e EVENTSTORE_GOSSIP_SEED="$seeds" \
      -e EVENTSTORE_ADVERTISE_HOST_TO_CLIENT_AS=127.0.0.1 -e EVENTSTORE_ADVERTISE_NODE_PORT_TO_CLIENT_AS="$port" \
      "$1" --insecure --mem-db --run-projections=None >/dev/null
  done
  for port in "${ports[@]}"; do wait_live "$port"; done
  local connection="esdb://127.0.0.1:${ports[0]},127.0.0.1:${ports[1]},127.0.0.1:${ports[2]}?tls=false&nodePreference=leader"
  run_suite "EventStoreDB 24.10, 3-node cluster" "$connection"
  local leader
  leader=$(leader_port "${ports[@]}") || fail "no node of the cluster says it is the leader (GET /info)"
  for i in 0 1 2; do
    if [ "${ports[$i]}" = "$leader" ]; then docker stop "$RUN_ID-n$((i + 1))" >/dev/null; fi
  done
  echo "== stopped the leader (port $leader); the two others elect a new one"
  run_suite "EventStoreDB 24.10, cluster after an election" "$connection"
}

for target in $TARGETS; do
  case "$target" in
    23.10) single_node 23.10 "$IMAGE_23" 2131 ;;
    24.10) single_node 24.10 "$IMAGE_24" 2132 ;;
    cluster) cluster "$IMAGE_24" ;;
    *) fail "unknown target '$target' in ESDB_TARGETS (23.10, 24.10, cluster)" ;;
  esac
done
echo "test:esdb: every target passed: $TARGETS"
