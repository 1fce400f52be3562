#!/bin/sh
# Start Mosquitto and send it SIGHUP whenever the cloud rewrites the password file or the ACL (a new
# printer enrolled, one removed): Mosquitto re-reads both on SIGHUP, without dropping connections.
set -eu
AUTH=/mosquitto/auth
while [ ! -s "$AUTH/passwords" ] || [ ! -s "$AUTH/acl" ]; do
    echo "waiting for the cloud to write $AUTH/passwords and $AUTH/acl" >&2
    sleep 2
done
mosquitto -c /mosquitto/config/mosquitto.conf &
PID=$!
last=""
while kill -0 "$PID" 2>/dev/null; do
    now=$(stat -c %Y "$AUTH/passwords" "$AUTH/acl" | tr '\n' ' ')
    if [ -n "$last" ] && [ "$now" != "$last" ]; then kill -HUP "$PID"; fi
    last=$now
    sleep 2
done
wait "$PID"
