#!/bin/sh
# The configuration of a private influxd for the project's scripts, on
# stdout: its meta, data and WAL under DIR, HTTP on 127.0.0.1:HTTP_PORT and
# its RPC service on 127.0.0.1:RPC_PORT (0, the default: a port the system
# chooses, which influxd's log names at level info), no usage reporting,
# no self-monitoring, no continuous queries, no request or query logs.
#
#   tools/scripts/influxd-conf.sh DIR [HTTP_PORT [RPC_PORT [LOG_LEVEL]]]
set -eu
[ $# -ge 1 ] || { echo "usage: influxd-conf.sh DIR [HTTP_PORT [RPC_PORT [LOG_LEVEL]]]" >&2; exit 2; }
cat <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:${3:-0}"
[meta]
  dir = "$1/meta"
[data]
  dir = "$1/data"
  wal-dir = "$1/wal"
  query-log-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:${2:-0}"
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[logging]
  level = "${4:-info}"
CONF
