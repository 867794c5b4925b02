"""Kernel of Dajian; imports none of the other parts (builder, runtime, app_templates)."""
