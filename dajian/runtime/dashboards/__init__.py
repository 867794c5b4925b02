"""Dashboards: figures computed from records with SQL aggregates (docs/dashboards.md)."""
