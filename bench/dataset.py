"""The benchmark's data: workspace, user, API token and forms through Dajian's own code,
then 1,000,000 deals bulk-loaded with COPY.

Loading takes minutes, so the database is kept between runs (in the cluster under
``var/bench/``) and reloaded only when its fingerprint changes: the project's migrations,
the bench forms or the record count. The forms go through the builder service
(``save_form_draft`` / ``publish_form``), so publishing creates the record indexes the
runtime declares; those are dropped during the load and rebuilt from their own
definitions afterwards, which is the same index, built in one pass.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import forms as bench_forms
import psycopg

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "dajian_bench"
WORKSPACE_SLUG = "bench"
USERNAME = "bench"
DATASET_VERSION = "4"
POOL_SIZE = 20_000
COPY_COLUMNS = (
    "workspace_id, form_id, form_version_id, stage, status, owner_id, created_by_id, "
    "updated_by_id, created_at, updated_at, version, data, flags, idempotency_key"
)


@dataclass
class Dataset:
    """What the figures need to address the data."""

    token: str
    workspace_id: int
    user_id: int
    app_key: str
    deal_form_id: int
    deal_version_id: int
    render_form_id: int
    bulk_count: int
    bulk_max_id: int
    select_index: str | None
    select_index_def: str | None
    notes: list[str] = field(default_factory=list)


def fingerprint(record_count: int) -> str:
    digest = hashlib.sha256(DATASET_VERSION.encode())
    for path in sorted(ROOT.glob("dajian/*/migrations/*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    digest.update((ROOT / "bench" / "forms.py").read_bytes())
    digest.update(str(record_count).encode())
    return digest.hexdigest()


def _meta_get(conn: psycopg.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM bench_meta WHERE key = %s", (key,)).fetchone()
    return row[0] if row else None


def _meta_set(conn: psycopg.Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO bench_meta (key, value) VALUES (%s, %s) "
        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        (key, value),
    )


def prepare_database(admin_url: str, db_url: str, record_count: int, log) -> bool:
    """Make sure ``DB_NAME`` exists and matches the fingerprint (else recreate it).

    Returns True when the database was (re)created.
    """
    wanted = fingerprint(record_count)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        exists = admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,)
        ).fetchone()
        if exists:
            with psycopg.connect(db_url, autocommit=True) as conn:
                has_meta = conn.execute("SELECT to_regclass('bench_meta')").fetchone()[0]
                current = _meta_get(conn, "fingerprint") if has_meta else None
            if current == wanted:
                return False
            log(
                f"data set fingerprint changed ({current and current[:12]} -> {wanted[:12]}): "
                "reloading"
            )
            admin.execute(f'DROP DATABASE "{DB_NAME}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{DB_NAME}"')
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE bench_meta (key text PRIMARY KEY, value text NOT NULL)")
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    return True


def setup_metadata(log) -> dict[str, Any]:
    """Workspace, admin user, token, app and the two published forms (Django is set up)."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from dajian.platform.actors import actor_for
    from dajian.platform.models import Membership, Workspace
    from dajian.platform.tokens import issue_token

    started = time.monotonic()
    call_command("migrate", verbosity=0, interactive=False)
    log(f"migrate: {time.monotonic() - started:.1f} s")

    workspace, _ = Workspace.objects.get_or_create(
        slug=WORKSPACE_SLUG, defaults={"name": "Benchmark"}
    )
    user = get_user_model().objects.filter(username=USERNAME).first()
    if user is None:
        user = get_user_model().objects.create_user(username=USERNAME, password=None)
    Membership.objects.get_or_create(workspace=workspace, user=user, defaults={"is_admin": True})
    actor = actor_for(user, workspace)
    _, token = issue_token(user, workspace, name="bench")

    from dajian.builder.services.forms import publish_form, save_form_draft

    try:
        from dajian.builder.services.forms import create_app

        create_app(actor, bench_forms.APP_KEY, bench_forms.APP_NAME)
    except ImportError:
        from dajian.builder.models import App

        App.objects.get_or_create(
            workspace=workspace, key=bench_forms.APP_KEY, defaults={"name": bench_forms.APP_NAME}
        )
    from dajian.builder.models import Form

    versions = {}
    for definition in (bench_forms.deal_definition(), bench_forms.render_definition()):
        form = (
            Form.objects.select_related("published")
            .filter(workspace=workspace, app__key=bench_forms.APP_KEY, key=definition["key"])
            .first()
        )
        published = form.published if form else None
        if published is not None and _same_definition(published.definition, definition):
            versions[definition["key"]] = published  # already published: nothing to do
            continue
        save_form_draft(actor, bench_forms.APP_KEY, definition["key"], definition)
        versions[definition["key"]] = publish_form(actor, bench_forms.APP_KEY, definition["key"])
    return {
        "token": token,
        "workspace_id": workspace.pk,
        "user_id": user.pk,
        "deal_form_id": versions[bench_forms.DEAL_FORM].form_id,
        "deal_version_id": versions[bench_forms.DEAL_FORM].pk,
        "render_form_id": versions[bench_forms.RENDER_FORM].form_id,
        "deal_version": versions[bench_forms.DEAL_FORM],
    }


def _same_definition(stored: dict[str, Any], wanted: dict[str, Any]) -> bool:
    return {k: v for k, v in stored.items() if k != "schema_version"} == wanted


def cleaned_pool(deal_version: Any, size: int, seed: int = 7) -> list[str]:
    """``size`` deals, normalised by each field type's ``clean`` (what the runtime
    stores), as compact JSON text."""
    from dajian.builder.definitions import FormDefinition

    definition = FormDefinition(deal_version.definition)
    rng = random.Random(seed)
    stages = [
        value
        for value, share in zip(bench_forms.STAGE_VALUES, bench_forms.STAGE_SHARES, strict=True)
        for _ in range(max(1, round(size * share / 100)))
    ]
    rng.shuffle(stages)
    pool = []
    for i in range(size):
        data = bench_forms.deal_data(rng, stage=stages[i % len(stages)])
        cleaned = {k: definition.field_types[k].clean(v) for k, v in data.items()}
        pool.append(json.dumps(cleaned, ensure_ascii=False, separators=(",", ":"), default=str))
    return pool


def record_index_defs(conn: psycopg.Connection, form_id: int) -> dict[str, str]:
    """The runtime's expression indexes on the deal form (``rx_<form>_*``)."""
    rows = conn.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'runtime_record' "
        "AND indexname LIKE %s",
        (f"rx\\_{form_id}\\_%",),
    ).fetchall()
    return dict(rows)


def bulk_load(db_url: str, meta: dict[str, Any], count: int, log) -> None:
    """Replace the deal form's records with ``count`` generated ones (COPY), rebuild the
    runtime's indexes and ANALYZE."""
    pool = cleaned_pool(meta["deal_version"], POOL_SIZE)
    ws, form, version, user = (
        meta["workspace_id"],
        meta["deal_form_id"],
        meta["deal_version_id"],
        meta["user_id"],
    )
    rng = random.Random(11)
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    start = end - timedelta(days=365)
    step = (end - start).total_seconds() / count
    with psycopg.connect(db_url, autocommit=True) as conn:
        indexes = record_index_defs(conn, form)
        conn.execute("DELETE FROM runtime_record WHERE form_id = %s", (form,))
        for name in indexes:
            conn.execute(f'DROP INDEX IF EXISTS "{name}"')
        started = time.monotonic()
        base = start.timestamp()
        # The rows are known to be valid: skip the foreign-key triggers (per row, they
        # doubled the load time). Needs a superuser, which the bench's cluster has.
        conn.execute("SET session_replication_role = replica")
        with (
            conn.cursor() as cur,
            cur.copy(f"COPY runtime_record ({COPY_COLUMNS}) FROM STDIN") as copy,
        ):
            buffer = io.StringIO()
            prefix = f"{ws}\t{form}\t{version}\t\\N\tactive\t{user}\t{user}\t{user}\t"
            for i in range(count):
                # Rows arrive in creation order, as in production.
                ts = datetime.fromtimestamp(base + i * step + rng.random() * step * 0.9, UTC)
                stamp = ts.isoformat()
                data = pool[rng.randrange(POOL_SIZE)].replace("\\", "\\\\")
                buffer.write(f"{prefix}{stamp}\t{stamp}\t1\t{data}\t[]\t\\N\n")
                if i % 20_000 == 19_999:
                    copy.write(buffer.getvalue())
                    buffer = io.StringIO()
                if i % 200_000 == 199_999:
                    log(f"  {i + 1:,} rows ({time.monotonic() - started:.0f} s)")
            copy.write(buffer.getvalue())
        conn.execute("SET session_replication_role = DEFAULT")
        log(f"COPY {count:,} rows: {time.monotonic() - started:.1f} s")
        for name, definition in indexes.items():
            t = time.monotonic()
            conn.execute(definition)
            log(f"rebuilt index {name}: {time.monotonic() - t:.1f} s")
        t = time.monotonic()
        conn.execute("VACUUM (ANALYZE) runtime_record")
        log(f"VACUUM ANALYZE: {time.monotonic() - t:.1f} s")
        max_id = conn.execute(
            "SELECT max(id) FROM runtime_record WHERE form_id = %s", (form,)
        ).fetchone()[0]
        _meta_set(conn, "bulk_max_id", str(max_id))
        _meta_set(conn, "bulk_count", str(count))


def ensure_dataset(db_url: str, count: int, created: bool, log) -> Dataset:
    """Set up metadata (every run: it is cheap and idempotent) and load records if needed."""
    meta = setup_metadata(log)
    notes: list[str] = []
    with psycopg.connect(db_url, autocommit=True) as conn:
        loaded = _meta_get(conn, "bulk_count")
    if created or loaded != str(count):
        log(f"loading {count:,} deals (once; cached under var/bench/)")
        bulk_load(db_url, meta, count, log)
    with psycopg.connect(db_url, autocommit=True) as conn:
        _meta_set(conn, "fingerprint", fingerprint(count))
        bulk_max_id = int(_meta_get(conn, "bulk_max_id") or 0)
        # Leftovers of earlier runs (created by figure 1 or the raw baseline) go, so each
        # run lists the same 1,000,000 rows.
        removed = conn.execute(
            "DELETE FROM runtime_record WHERE form_id = %s AND id > %s",
            (meta["deal_form_id"], bulk_max_id),
        ).rowcount
        if removed:
            conn.execute("VACUUM (ANALYZE) runtime_record")
            log(f"removed {removed:,} records of earlier runs")
        indexes = record_index_defs(conn, meta["deal_form_id"])
    select_index = next(
        (name for name in indexes if name.endswith(f"_{bench_forms.SELECT_FIELD}_i")), None
    )
    if select_index is None:
        notes.append(
            f"NO composite index on '{bench_forms.SELECT_FIELD}' was created by publishing "
            f"(indexes rx_{meta['deal_form_id']}_*: {sorted(indexes) or 'none'})"
        )
    return Dataset(
        token=meta["token"],
        workspace_id=meta["workspace_id"],
        user_id=meta["user_id"],
        app_key=bench_forms.APP_KEY,
        deal_form_id=meta["deal_form_id"],
        deal_version_id=meta["deal_version_id"],
        render_form_id=meta["render_form_id"],
        bulk_count=count,
        bulk_max_id=bulk_max_id,
        select_index=select_index,
        select_index_def=indexes.get(select_index) if select_index else None,
        notes=notes,
    )
