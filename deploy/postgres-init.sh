#!/bin/sh
# One database per service, each owned by a role of that service alone: each service owns its
# data, no transaction spans two of them, and a service's credentials open no other database.
# The postgres image runs this once, when its data volume is empty (docker-entrypoint-initdb.d),
# as POSTGRES_USER (glastonbury, the superuser no service uses). `python -m glastonbury.migrate`
# (compose's `migrate` job) then creates each database's tables as its owner.
set -eu

create() {   # role, database, password
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
        --set role="$1" --set database="$2" --set password="$3" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE DATABASE :"database" OWNER :"role";
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
SQL
}

create orders_service orders "$ORDER_DB_PASSWORD"
create inventory_service inventory "$INVENTORY_DB_PASSWORD"
create payment_service payments "$PAYMENT_DB_PASSWORD"
create orchestrator orchestrator "$ORCHESTRATOR_DB_PASSWORD"
