"""Metadata: apps, forms and their field types, rules, versions. Never imports runtime."""
