#!/bin/bash
# Kafka as docker-compose runs it: the apache/kafka image's own start, then who may do what.
#
# Clients reach the broker on 9092 with SASL/SCRAM-SHA-512 only, each as its own user, and may
# do only what an ACL below allows (allow.everyone.if.no.acl.found=false):
#   payment-relay        writes payment.results (and its dead-letter topic): the only writer
#   orchestrator-bridge  reads payment.results as the group orchestrator-bridge, writes dead letters
# The broker's own connections and this script use plaintext listeners bound to the container's
# loopback (ANONYMOUS, the super user), which nothing outside the container reaches.
# Users, topics and ACLs are (re)applied at every start: changing a password in the environment
# and restarting the broker rotates it.
set -euo pipefail

BIN=/opt/kafka/bin
INTERNAL=127.0.0.1:9094
READY=/tmp/glastonbury-kafka-ready
RESULTS=${PAYMENT_RESULTS_TOPIC:-payment.results}
DEAD_LETTERS=${PAYMENT_RESULTS_DLQ_TOPIC:-$RESULTS.dlq}

rm -f "$READY"
/etc/kafka/docker/run &
broker=$!
trap 'kill -TERM "$broker"; wait "$broker"' TERM INT

until "$BIN/kafka-broker-api-versions.sh" --bootstrap-server "$INTERNAL" >/dev/null 2>&1; do
    kill -0 "$broker" 2>/dev/null || { echo "kafka exited before it answered" >&2; exit 1; }
    sleep 1
done

user() {   # name, password
    "$BIN/kafka-configs.sh" --bootstrap-server "$INTERNAL" --alter --entity-type users \
        --entity-name "$1" --add-config "SCRAM-SHA-512=[password=$2]"
}
topic() {  # name, partitions
    "$BIN/kafka-topics.sh" --bootstrap-server "$INTERNAL" --create --if-not-exists \
        --topic "$1" --partitions "$2" --replication-factor 1
}
allow() {  # principal, then kafka-acls.sh's operations and resource
    local principal=$1
    shift
    "$BIN/kafka-acls.sh" --bootstrap-server "$INTERNAL" --add --allow-principal "User:$principal" "$@"
}

user payment-relay "${PAYMENT_RELAY_KAFKA_PASSWORD:?set PAYMENT_RELAY_KAFKA_PASSWORD}"
user orchestrator-bridge "${BRIDGE_KAFKA_PASSWORD:?set BRIDGE_KAFKA_PASSWORD}"

topic "$RESULTS" "${PAYMENT_RESULTS_PARTITIONS:-4}"
topic "$DEAD_LETTERS" 1

allow payment-relay --operation Write --operation Describe --topic "$RESULTS"
allow payment-relay --operation Write --operation Describe --topic "$DEAD_LETTERS"
allow orchestrator-bridge --operation Read --operation Describe --topic "$RESULTS"
allow orchestrator-bridge --operation Read --group orchestrator-bridge
allow orchestrator-bridge --operation Write --operation Describe --topic "$DEAD_LETTERS"

touch "$READY"
echo "kafka is ready: users, topics and ACLs in place"
wait "$broker"
