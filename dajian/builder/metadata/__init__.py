"""Metadata documents other than forms: stage workflows and approval chains (and later
automations and dashboards). Each kind has a JSON meta-schema in ``builder/schemas/``,
semantic checks, and a typed, immutable view (``WorkflowDefinition``,
``ChainDefinition``) that the runtime engines read. See docs/workflows.md and
docs/approvals.md for the formats."""
