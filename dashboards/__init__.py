"""Fleet web UI, Grafana dashboards and Prometheus rules (assets)."""
