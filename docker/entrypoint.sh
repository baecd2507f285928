#!/bin/sh
# Container entry point: install the shared ha.cf and a private copy of authkeys (Heartbeat
# refuses an authkeys file readable by others, and bind mounts keep the host's mode), then run
# the node's launcher in the foreground so `docker compose logs` shows the daemons.
set -eu
mkdir -p /etc/ha.d /var/lib/hacluster
cp /config/ha.cf /etc/ha.d/ha.cf
install -m 0600 /config/authkeys /etc/ha.d/authkeys
exec hacluster node start -c /etc/ha.d/ha.cf
