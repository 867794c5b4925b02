"""Figure 9: installing the B2B sales template with 10,000 sample records (issue 5).

In-process, on PostgreSQL: ``install_template(admin, "b2b_sales", sample_data=True,
records=BENCH_INSTALL_RECORDS)`` (default 10,000) into the workspace ``bench-install``,
whose org chart is a sales director over 2 regional directors, 4 team managers and 12
reps, plus finance, product and delivery. The wall time covers everything the admin
waits for: checking the bundle, publishing its 11 forms, workflows, chain, automations
and dashboards through the builder services (record indexes, promoted facts), and
generating, validating and writing the sample records with their stage history and
audit events, in one transaction. Target: ≤ 30 s.

Raw baseline in the same run: the same rows (the installed records' columns and data)
inserted again with one ``COPY`` in a transaction that is rolled back. The split
between metadata and sample data is measured by a second, metadata-only install.
Every run starts by purging the app, and leaves it purged.

Run alone (its own durable cluster under ``var/bench/pg_install``, fsync on)::

    python bench/template_install.py

or as part of ``bench/run.py`` with ``BENCH_ONLY=install`` (figure 9; small
``BENCH_RECORDS`` will do, it does not read the 1,000,000 deals).
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
TEMPLATE = "b2b_sales"
WORKSPACE = "bench-install"
TARGET_S = 30.0
RECORD_COLUMNS = (
    "workspace_id",
    "form_id",
    "form_version_id",
    "stage",
    "stage_entered_at",
    "status",
    "owner_id",
    "created_by_id",
    "updated_by_id",
    "created_at",
    "updated_at",
    "version",
    "data",
    "flags",
)
# username → (roles, manager's username or None)
PEOPLE: dict[str, tuple[tuple[str, ...], str | None]] = {
    "director": (("director",), None),
    **{f"regional{r}": (("regional_manager",), "director") for r in (1, 2)},
    **{f"manager{t}": (("manager",), f"regional{1 + (t - 1) // 2}") for t in (1, 2, 3, 4)},
    **{f"rep{i}": (("rep",), f"manager{1 + (i - 1) // 3}") for i in range(1, 13)},
    "finance": (("finance",), None),
    "product": (("product",), None),
    "delivery": (("delivery",), None),
}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S', time.gmtime())}Z] {message}", flush=True)


def setup_workspace() -> Any:
    """The workspace and its people (idempotent); returns the admin's actor."""
    from django.contrib.auth import get_user_model

    from dajian.platform.actors import actor_for
    from dajian.platform.models import Membership, OrgUnit, Role, Workspace
    from dajian.platform.org import create_org_unit

    workspace, _ = Workspace.objects.get_or_create(slug=WORKSPACE, defaults={"name": "安装基准"})
    users = get_user_model().objects
    admin, _ = users.get_or_create(username=f"{WORKSPACE}-admin")
    Membership.objects.get_or_create(workspace=workspace, user=admin, defaults={"is_admin": True})
    for username, (roles, manager_name) in PEOPLE.items():
        user, _ = users.get_or_create(username=f"{WORKSPACE}-{username}")
        membership, _ = Membership.objects.get_or_create(workspace=workspace, user=user)
        for key in roles:
            role, _ = Role.objects.get_or_create(
                workspace=workspace, key=key, defaults={"name": key}
            )
            membership.roles.add(role)
        if username.startswith(("regional", "manager", "director")):
            unit = OrgUnit.objects.filter(workspace=workspace, manager=user).first()
            if unit is None:
                parent = None
                if manager_name:
                    boss = users.get(username=f"{WORKSPACE}-{manager_name}")
                    parent = OrgUnit.objects.filter(workspace=workspace, manager=boss).first()
                unit = create_org_unit(workspace, f"{username} 团队", parent=parent, manager=user)
            membership.org_unit = unit
            membership.save(update_fields=["org_unit"])
    for username, (_, manager_name) in PEOPLE.items():
        if username.startswith("rep") and manager_name:
            boss = users.get(username=f"{WORKSPACE}-{manager_name}")
            unit = OrgUnit.objects.get(workspace=workspace, manager=boss)
            Membership.objects.filter(
                workspace=workspace, user__username=f"{WORKSPACE}-{username}"
            ).update(org_unit=unit)
    return actor_for(admin, workspace)


def purge(actor: Any) -> float:
    from dajian.app_templates.installer import uninstall_app
    from dajian.builder.models import App

    started = time.perf_counter()
    if App.objects.filter(workspace=actor.workspace, key=TEMPLATE).exists():
        uninstall_app(actor, TEMPLATE, purge=True)
    return time.perf_counter() - started


def copy_baseline(db_url: str, actor: Any) -> tuple[float, int]:
    """Seconds to COPY the installed records' rows into the record table with one COPY
    (in a transaction that is rolled back), and how many rows."""
    import psycopg

    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            f"SELECT {', '.join('r.' + c for c in RECORD_COLUMNS)} FROM runtime_record r "
            "JOIN builder_form f ON f.id = r.form_id JOIN builder_app a ON a.id = f.app_id "
            "WHERE a.workspace_id = %s AND a.key = %s",
            (actor.workspace.pk, TEMPLATE),
        ).fetchall()
        conn.rollback()
        from psycopg.types.json import Jsonb

        # The originals go first (not timed; rolled back with the rest): the template's
        # unique fields would refuse the same values twice.
        conn.execute(
            "DELETE FROM runtime_record WHERE form_id IN (SELECT f.id FROM builder_form f "
            "JOIN builder_app a ON a.id = f.app_id WHERE a.workspace_id = %s AND a.key = %s)",
            (actor.workspace.pk, TEMPLATE),
        )
        started = time.perf_counter()
        with (
            conn.cursor() as cursor,
            cursor.copy(f"COPY runtime_record ({', '.join(RECORD_COLUMNS)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row([*row[:12], Jsonb(row[12]), Jsonb(row[13])])
        seconds = time.perf_counter() - started
        conn.rollback()
    return seconds, len(rows)


def measure(db_url: str, records: int, profile: bool) -> dict[str, Any]:
    """Install with sample data (timed, optionally profiled), the COPY baseline, then a
    metadata-only install for the split; the app is purged before and after."""
    from dajian.app_templates.installer import install_template
    from dajian.platform.audit import verify_chain

    actor = setup_workspace()
    purge(actor)
    log(f"installing {TEMPLATE} with {records:,} sample records")
    started = time.perf_counter()
    report = install_template(actor, TEMPLATE, sample_data=True, records=records)
    wall = time.perf_counter() - started
    log(f"installed in {wall:.2f} s: {report.records:,} records")
    baseline, copied = copy_baseline(db_url, actor)
    purge_s = purge(actor)
    started = time.perf_counter()
    install_template(actor, TEMPLATE)
    metadata_s = time.perf_counter() - started
    purge(actor)
    result: dict[str, Any] = {
        "records": report.records,
        "wall_s": round(wall, 2),
        "metadata_only_s": round(metadata_s, 2),
        "sample_data_s": round(wall - metadata_s, 2),
        "records_per_s": round(report.records / max(wall - metadata_s, 1e-9)),
        "copy_baseline_s": round(baseline, 3),
        "copy_rows": copied,
        "purge_s": round(purge_s, 2),
        "documents": len(report.added),
        "audit_chain_ok": verify_chain(actor.workspace).ok,
    }
    if profile:  # a second, profiled install: the profiler slows the measured one down
        log("profiling a second install (cProfile)")
        profiler = cProfile.Profile()
        profiler.enable()
        install_template(actor, TEMPLATE, sample_data=True, records=records)
        profiler.disable()
        purge(actor)
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        out = RESULTS_DIR / f"profile-{stamp}-install.txt"
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(60)
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(40)
        out.write_text(text.getvalue())
        result["profile"] = str(out.relative_to(ROOT))
    return result


def describe(result: dict[str, Any]) -> list[str]:
    return [
        f"install {TEMPLATE} + {result['records']:,} sample records: {result['wall_s']} s "
        f"(target <= {TARGET_S:g} s): {'PASS' if result['wall_s'] <= TARGET_S else 'FAIL'}",
        f"  metadata only {result['metadata_only_s']} s ({result['documents']} documents); "
        f"sample data {result['sample_data_s']} s = {result['records_per_s']:,} records/s",
        f"  raw baseline: the same {result['copy_rows']:,} rows with one COPY: "
        f"{result['copy_baseline_s']} s",
        f"  purge afterwards {result['purge_s']} s; audit chain ok: {result['audit_chain_ok']}",
        *([f"  profile: {result['profile']}"] if "profile" in result else []),
    ]


def figure_install(ctx: dict[str, Any], report: Any, kit: Any) -> None:
    """Figure 9 of ``bench/run.py``."""
    records = int(os.environ.get("BENCH_INSTALL_RECORDS", "10000"))
    result = measure(ctx["db_url"], records, ctx["cfg"].profile)
    report.details["install"] = result
    report.rows.append(
        kit.Row(
            f"9. install {TEMPLATE} + {records:,} sample records",
            result["wall_s"],
            "s",
            f"<= {TARGET_S:g}",
            f"one COPY of the same rows {result['copy_baseline_s']} s; metadata only "
            f"{result['metadata_only_s']} s",
            result["wall_s"] <= TARGET_S,
        )
    )


def print_evidence(details: dict[str, Any]) -> None:
    if "install" in details:
        print()
        for line in describe(details["install"]):
            print(f"  {line}")


def main() -> int:
    """Run the figure alone on its own durable cluster (or ``BENCH_DATABASE_URL``)."""
    sys.path.insert(0, str(BENCH_DIR))
    sys.path.insert(0, str(ROOT))
    import cluster as bench_cluster

    records = int(os.environ.get("BENCH_INSTALL_RECORDS", "10000"))
    outer = os.environ.get("BENCH_DATABASE_URL", "")
    pg = bench_cluster.PgCluster(ROOT / "var" / "bench" / "pg_install")
    if outer:
        db_url = outer
    else:
        log("starting PostgreSQL (var/bench/pg_install, fsync on)")
        pg.start()
        db_url = pg.url("dajian_install")
        import psycopg

        with psycopg.connect(pg.url("postgres"), autocommit=True) as admin:
            if not admin.execute(
                "SELECT 1 FROM pg_database WHERE datname = 'dajian_install'"
            ).fetchone():
                admin.execute('CREATE DATABASE "dajian_install"')
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "dajian.settings",
            "DATABASE_URL": db_url,
            "DAJIAN_DEBUG": "0",
            "DAJIAN_LOG_LEVEL": "WARNING",
            "DAJIAN_SECRET_KEY": "bench-only-secret-key-not-used-anywhere-else-0123456789abcdef",
        }
    )
    try:
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        result = measure(db_url, records, os.environ.get("BENCH_PROFILE", "1") != "0")
    finally:
        if not outer and os.environ.get("BENCH_KEEP") != "1":
            pg.stop()
    print()
    for line in describe(result):
        print(line)
    return 0 if result["wall_s"] <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
