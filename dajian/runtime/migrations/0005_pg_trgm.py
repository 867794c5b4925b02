"""The ``pg_trgm`` extension on PostgreSQL, for near-duplicate text (R22).

``flag_similar_text`` scores candidates with ``similarity()``; other databases compute
the same score in Python. ``pg_trgm`` is a trusted extension (PostgreSQL 13+), so the
database owner may create it. Reversing leaves it installed: other objects may use it.
"""

from django.db import migrations


def create_pg_trgm(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")


class Migration(migrations.Migration):
    dependencies = [("runtime", "0004_automations_deliveries_ownership")]

    operations = [migrations.RunPython(create_pg_trgm, migrations.RunPython.noop, elidable=False)]
