#!/bin/bash
# Creates the KCM warehouse database and its owner on first start of the postgres container.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v pw="$KCM_WAREHOUSE_PASSWORD" <<'SQL'
CREATE ROLE kcm LOGIN PASSWORD :'pw';
CREATE DATABASE kcm_warehouse OWNER kcm;
SQL
