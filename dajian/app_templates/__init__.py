"""App templates: versioned bundles of forms, workflows, approval chains, automations,
dashboards and roles under ``dajian/app_templates/<key>/``, and the installer that
installs, upgrades, uninstalls and exports them (docs/templates.md)."""
