"""Metrics, readiness detail and log triage: what the operator's Prometheus, Alertmanager and Grafana read."""
