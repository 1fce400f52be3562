#!/bin/sh
# The demo agent container: a virtual printer on a pty and `3dpot agent` driving it. On its first start it
# enrols with the cloud using AGENT_CLAIM_CODE (create one in the web UI, Printers → Add printer); the
# credentials are kept in the data volume, so later starts need no code.
set -eu
DATA=/var/lib/3dpot/agent
mkdir -p "$DATA"
3dpot virtual-printer --link /tmp/ttyVIRTUAL >/tmp/virtual-printer.log 2>&1 &
for _ in $(seq 1 50); do [ -e /tmp/ttyVIRTUAL ] && break; sleep 0.1; done
if [ ! -f "$DATA/enrolment.json" ]; then
    if [ -z "${AGENT_CLAIM_CODE:-}" ]; then
        echo "agent: not enrolled yet; set AGENT_CLAIM_CODE (a claim code from the cloud) and restart" >&2
        exit 2
    fi
    exec 3dpot agent --serial-port /tmp/ttyVIRTUAL --data-dir "$DATA" --http-host 0.0.0.0 \
        --enrol "$AGENT_CLAIM_CODE" --cloud-url "$AGENT_CLOUD_URL"
fi
exec 3dpot agent --serial-port /tmp/ttyVIRTUAL --data-dir "$DATA" --http-host 0.0.0.0
