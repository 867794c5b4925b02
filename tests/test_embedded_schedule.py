"""The embedded default really runs schedules: ``make run``'s worker with embedded beat,
on SQLite and the filesystem broker (no Redis, no PostgreSQL), fires a published
scheduled automation at its cron tick.

Runs the real commands in a throw-away ``DAJIAN_VAR_DIR``: ``dajian migrate``, a shell
script that publishes an every-minute automation through the builder service, then
``celery -A dajian worker -B --pool=solo`` exactly as ``scripts/run`` starts it; the test
waits (at most two minutes: the next minute tick) for the run and its notification.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.pgcluster import REPO_DIR

BIN = Path(sys.executable).parent
SETUP = """
from django.contrib.auth import get_user_model
from dajian.builder.services.forms import create_app, publish_form, save_form_draft
from dajian.builder.services.metadata import save_automation
from dajian.platform.actors import actor_for
from dajian.platform.models import Membership, Workspace
from dajian.runtime.services.records import create_record

ws = Workspace.objects.create(slug="embedded", name="Embedded")
user = get_user_model().objects.create_user("boss")
Membership.objects.create(workspace=ws, user=user, is_admin=True)
actor = actor_for(user, ws)
create_app(actor, "sales", {"zh-CN": "销售", "en": "Sales"})
save_form_draft(actor, "sales", "customer", {
    "key": "customer", "name": {"zh-CN": "客户", "en": "Customer"},
    "fields": [{"key": "name", "type": "text", "label": "Name"}],
})
publish_form(actor, "sales", "customer")
create_record(actor, "sales", "customer", {"name": "Acme"})
save_automation(actor, "sales", "every_minute", {
    "schema_version": 1, "form": "customer",
    "trigger": {"type": "schedule", "cron": "* * * * *"},
    "actions": [{"type": "notify", "to": [{"type": "owner"}], "message": "tick {{ name }}"}],
}, publish=True)
print("ready")
"""


def _env(var_dir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE")
    }
    return {**env, "DAJIAN_VAR_DIR": str(var_dir), "DAJIAN_CELERY_EAGER": "false"}


def _count(db: Path, sql: str) -> int:
    with sqlite3.connect(db, timeout=5) as conn:
        return int(conn.execute(sql).fetchone()[0])


def test_make_runs_worker_fires_a_scheduled_automation(tmp_path):
    env = _env(tmp_path)
    run = {"cwd": REPO_DIR, "env": env, "capture_output": True, "text": True, "timeout": 300}
    migrated = subprocess.run([BIN / "dajian", "migrate", "--noinput"], **run)
    assert migrated.returncode == 0, migrated.stderr
    setup = subprocess.run([BIN / "dajian", "shell", "-c", SETUP], **run)
    assert "ready" in setup.stdout, setup.stderr
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [BIN / "celery", "-A", "dajian", "worker", "-B", "--pool=solo", "--loglevel=INFO"],
        cwd=REPO_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    db = tmp_path / "dajian.sqlite3"
    try:
        deadline = time.monotonic() + 150
        fired = 0
        while time.monotonic() < deadline and worker.poll() is None:
            fired = _count(
                db,
                "SELECT count(*) FROM runtime_automationrun "
                "WHERE trigger = 'schedule' AND status = 'succeeded'",
            )
            if fired:
                break
            time.sleep(1)
        output = (tmp_path / "worker.log").read_text(errors="replace")
        assert fired >= 1, output
        notes = _count(db, "SELECT count(*) FROM runtime_notification WHERE kind = 'automation'")
        assert notes >= 1, output
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
        log.close()
