"""The audit chain under concurrent writers (PostgreSQL row locks, real threads)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from dajian.platform.actors import Actor
from dajian.platform.audit import record_event, verify_chain
from dajian.platform.models import AuditEvent


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_never_fork_the_chain():
    # given a workspace without a chain head, and writers racing to create it and append
    from tests.factories import make_workspace

    workspace = make_workspace("busy")
    writers, appends, failures = 8, 10, []
    start = threading.Barrier(writers)

    def writer(n: int) -> None:
        try:
            start.wait()
            for i in range(appends):
                with transaction.atomic():
                    record_event(Actor.system(workspace), "x", "record", f"{n}-{i}", {})
        except Exception as exc:  # noqa: BLE001 - reported below, per thread
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    seqs = list(AuditEvent.objects.filter(workspace=workspace).values_list("seq", flat=True))
    assert sorted(seqs) == list(range(1, writers * appends + 1))
    assert verify_chain(workspace).ok
