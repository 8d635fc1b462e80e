-- One database per service: each service owns its data and no transaction spans two of them.
-- The postgres image runs this once, when its data volume is empty (docker-entrypoint-initdb.d),
-- as POSTGRES_USER (glastonbury), who therefore owns the four databases. Each service creates
-- its own tables on start (glastonbury.db.create_schema).
CREATE DATABASE orders;
CREATE DATABASE inventory;
CREATE DATABASE payments;
CREATE DATABASE orchestrator;
