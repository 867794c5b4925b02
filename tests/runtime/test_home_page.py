"""The server-rendered home page shows what the member may read, nothing more."""

from __future__ import annotations

from dajian.runtime.services.records import create_record
from tests.factories import make_actor, make_user


def test_home_needs_sign_in(client, db):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert client.get("/accounts/login/").status_code == 200


def test_home_lists_only_readable_records(client, workspace, form_factory):
    form_factory(
        [{"key": "name", "type": "text", "label": "Name"}],
        permissions=[{"role": "rep", "create": True, "read": "own"}],
    )
    reps = [make_user(n, workspace, roles=["rep"]) for n in ("rep_a", "rep_b")]
    for rep in reps:
        create_record(make_actor(rep, workspace), "sales", "customer", {"name": f"of {rep}"})
    client.force_login(reps[0])
    page = client.get("/").content.decode()
    assert "of rep_a" in page and "of rep_b" not in page
