"""The public GraphQL contract v1: auth, typed errors, limits, no leaked exceptions."""

from __future__ import annotations

import json

import pytest

from dajian.platform.tokens import issue_token
from tests.factories import make_user

ME = "query { me { username roles isAdmin workspace { slug } } }"
CREATE = """
mutation Create($input: CreateRecordInput!) {
  createRecord(input: $input) {
    record { id version data flags owner { username } }
    created
    errors { field path code message }
  }
}"""
UPDATE = """
mutation Update($input: UpdateRecordInput!) {
  updateRecord(input: $input) { record { id version data } errors { field path code message } }
}"""
DELETE = """
mutation Delete($input: DeleteRecordInput!) {
  deleteRecord(input: $input) { deletedId errors { code } }
}"""
RECORD = "query R($id: ID!) { record(id: $id) { id data version history { action diff } } }"
RECORDS = """
query L($filter: GenericScalar, $first: Int, $after: String) {
  records(app: "sales", form: "customer", filter: $filter, first: $first, after: $after) {
    edges { cursor node { id data } }
    pageInfo { hasNextPage endCursor }
    totalCount
  }
}"""
FORM = """
query F { form(app: "sales", key: "customer") {
  key name version jsonSchema fields { key type label required readOnly options uiHints }
  permissions { canCreate readScopes }
} }"""
SAVE_DRAFT = """
mutation S($input: SaveFormDraftInput!) {
  saveFormDraft(input: $input) { definition errors { field path code message } }
}"""
PUBLISH = """
mutation P($input: PublishFormInput!) {
  publishForm(input: $input) { version form { version fields { key } } errors { code } }
}"""
CREATE_APP = """
mutation A($input: CreateAppInput!) { createApp(input: $input) { app { key } errors { code } } }
"""

FIELDS = [
    {"key": "name", "type": "text", "label": {"en": "Name", "zh-CN": "名称"}, "required": True},
    {"key": "cost", "type": "number", "label": "Cost"},
]


@pytest.fixture
def form(form_factory):
    return form_factory(
        FIELDS,
        permissions=[
            {
                "role": "rep",
                "create": True,
                "read": "own",
                "update": "own",
                "fields": {"cost": "hidden"},
            }
        ],
    )


@pytest.fixture
def rep(workspace):
    return make_user("rep", workspace, roles=["rep"])


def test_anonymous_calls_are_refused(gql):
    result = gql(ME)
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_me(gql, admin):
    assert gql(ME, as_user=admin)["data"]["me"] == {
        "username": "boss",
        "roles": ["admin"],
        "isAdmin": True,
        "workspace": {"slug": "acme"},
    }


def test_define_a_form_through_graphql(gql, admin, rep):
    # denied without the designer permission...
    denied = gql(CREATE_APP, {"input": {"key": "sales", "name": "Sales"}}, as_user=rep)
    assert denied["data"]["createApp"]["errors"][0]["code"] == "PERMISSION_DENIED"
    # ...allowed with it
    assert gql(CREATE_APP, {"input": {"key": "sales", "name": "Sales"}}, as_user=admin)["data"][
        "createApp"
    ]["app"] == {"key": "sales"}
    definition = {"key": "customer", "name": "Customer", "fields": FIELDS}
    saved = gql(SAVE_DRAFT, {"input": {"app": "sales", "definition": definition}}, as_user=admin)
    assert saved["data"]["saveFormDraft"]["errors"] == []
    published = gql(PUBLISH, {"input": {"app": "sales", "key": "customer"}}, as_user=admin)
    assert published["data"]["publishForm"]["version"] == 1
    assert [f["key"] for f in published["data"]["publishForm"]["form"]["fields"]] == [
        "name",
        "cost",
    ]


def test_invalid_definition_lists_every_problem(gql, admin):
    gql(CREATE_APP, {"input": {"key": "sales", "name": "Sales"}}, as_user=admin)
    bad = {
        "key": "customer",
        "name": "C",
        "fields": [
            {
                "key": "a",
                "type": "text",
                "label": "A",
                "rules": [{"expression": "a +", "message": "m"}],
            },
            {"key": "a", "type": "text", "label": "A2"},
        ],
    }
    errors = gql(SAVE_DRAFT, {"input": {"app": "sales", "definition": bad}}, as_user=admin)["data"][
        "saveFormDraft"
    ]["errors"]
    assert {(e["path"], e["code"]) for e in errors} == {
        ("fields.0.key", "DUPLICATE_KEY"),
        ("fields.1.key", "DUPLICATE_KEY"),
    }


def test_form_render_hides_fields_by_role(gql, form, admin, rep):
    as_admin = gql(FORM, as_user=admin, language="en")["data"]["form"]
    assert [f["key"] for f in as_admin["fields"]] == ["name", "cost"]
    assert as_admin["fields"][0]["label"] == "Name"
    assert as_admin["jsonSchema"]["required"] == ["name"]
    as_rep = gql(FORM, as_user=rep, language="zh-CN")["data"]["form"]
    assert [f["key"] for f in as_rep["fields"]] == ["name"]
    assert as_rep["fields"][0]["label"] == "名称"
    assert as_rep["permissions"] == {"canCreate": True, "readScopes": ["own"]}


def test_record_round_trip(gql, form, rep):
    created = gql(
        CREATE,
        {"input": {"app": "sales", "form": "customer", "data": {"name": "Acme"}}},
        as_user=rep,
    )["data"]
    record = created["createRecord"]["record"]
    assert created["createRecord"]["errors"] == [] and record["data"] == {"name": "Acme"}
    assert record["owner"] == {"username": "rep"}
    got = gql(RECORD, {"id": record["id"]}, as_user=rep)["data"]["record"]
    assert got["history"][0]["action"] == "record.created"
    updated = gql(
        UPDATE,
        {"input": {"id": record["id"], "data": {"name": "Acme 2"}, "expectedVersion": 1}},
        as_user=rep,
    )
    assert updated["data"]["updateRecord"]["record"]["version"] == 2
    stale = gql(
        UPDATE,
        {"input": {"id": record["id"], "data": {"name": "x"}, "expectedVersion": 1}},
        as_user=rep,
    )
    assert stale["data"]["updateRecord"]["errors"][0]["code"] == "STALE_VERSION"
    listed = gql(RECORDS, {"first": 10}, as_user=rep)["data"]["records"]
    assert listed["totalCount"] == 1 and listed["edges"][0]["node"]["data"]["name"] == "Acme 2"
    deleted = gql(DELETE, {"input": {"id": record["id"]}}, as_user=rep)["data"]["deleteRecord"]
    assert deleted["errors"] == [{"code": "PERMISSION_DENIED"}]  # reps may not delete


def test_typed_errors_on_create(gql, form, rep):
    result = gql(
        CREATE,
        {"input": {"app": "sales", "form": "customer", "data": {"name": 5, "extra": 1}}},
        as_user=rep,
    )
    errors = result["data"]["createRecord"]["errors"]
    assert {(e["field"], e["code"]) for e in errors} == {
        ("name", "INVALID_TYPE"),
        ("extra", "UNKNOWN_FIELD"),
    }
    assert result["data"]["createRecord"]["record"] is None


def test_other_workspace_ids_are_not_found(gql, form, admin, other_workspace):
    record = gql(
        CREATE,
        {"input": {"app": "sales", "form": "customer", "data": {"name": "x"}}},
        as_user=admin,
    )["data"]["createRecord"]["record"]
    outsider = make_user("outsider", other_workspace, is_admin=True)
    assert gql(RECORD, {"id": record["id"]}, as_user=outsider)["data"]["record"] is None
    result = gql(UPDATE, {"input": {"id": record["id"], "data": {"name": "y"}}}, as_user=outsider)
    assert result["data"]["updateRecord"]["errors"][0]["code"] == "NOT_FOUND"
    # a garbage id reads the same as a missing one
    assert gql(RECORD, {"id": "garbage"}, as_user=admin)["data"]["record"] is None


def test_bearer_token(gql, form, rep, workspace):
    _, token = issue_token(rep, workspace)
    assert gql(ME, token=token)["data"]["me"]["username"] == "rep"
    assert gql(ME, token=token + "x")["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_session_posts_need_csrf(gql, admin):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    response = client.post("/graphql/", json.dumps({"query": ME}), content_type="application/json")
    assert response.status_code == 403


def test_malformed_json_and_bad_bodies(gql, admin):
    client = gql.client
    client.force_login(admin)
    assert client.post("/graphql/", "{nope", content_type="application/json").status_code == 400
    assert client.post("/graphql/", "[]", content_type="application/json").status_code == 400
    body = json.dumps({"query": ME, "variables": [1]})
    assert client.post("/graphql/", body, content_type="application/json").status_code == 400


def test_page_size_limit(gql, form, admin):
    assert "errors" not in gql(RECORDS, {"first": 100}, as_user=admin)
    result = gql(RECORDS, {"first": 101}, as_user=admin)
    assert result["errors"][0]["extensions"]["code"] == "LIMIT_EXCEEDED"


def test_depth_limit(gql, admin, settings):
    settings.DAJIAN = {**settings.DAJIAN, "GRAPHQL_MAX_DEPTH": 3}
    from dajian.platform.graphql.view import documents

    documents.clear()
    ok = "{ apps { forms { key } } }"  # depth 3
    assert "errors" not in gql(ok, as_user=admin)
    deep = "{ apps { forms { permissions { canCreate } } } }"  # depth 4
    assert gql(deep, as_user=admin)["errors"][0]["extensions"]["code"] == "LIMIT_EXCEEDED"
    documents.clear()


def test_alias_limit(gql, admin, settings):
    settings.DAJIAN = {**settings.DAJIAN, "GRAPHQL_MAX_ALIASES": 2}
    from dajian.platform.graphql.view import documents

    documents.clear()
    assert "errors" not in gql("{ a: me { username } b: me { username } }", as_user=admin)
    three = "{ a: me { username } b: me { username } c: me { username } }"
    assert gql(three, as_user=admin)["errors"][0]["extensions"]["code"] == "LIMIT_EXCEEDED"
    documents.clear()


def test_token_limit(gql, admin, settings):
    settings.DAJIAN = {**settings.DAJIAN, "GRAPHQL_MAX_TOKENS": 20}
    from dajian.platform.graphql.view import documents

    documents.clear()
    assert "errors" not in gql("{ me { username isAdmin roles } }", as_user=admin)
    many = "{ me { " + " ".join(["username"] * 30) + " } }"
    assert gql(many, as_user=admin)["errors"][0]["extensions"]["code"] == "LIMIT_EXCEEDED"
    documents.clear()


def test_introspection_is_off_outside_debug(gql, admin, settings):
    from dajian.platform.graphql.view import documents

    documents.clear()
    settings.DEBUG = False
    result = gql("{ __schema { types { name } } }", as_user=admin)
    assert "errors" in result and "data" not in result
    documents.clear()
    settings.DEBUG = True
    assert gql("{ __schema { queryType { name } } }", as_user=admin)["data"]
    documents.clear()


def test_exceptions_do_not_leak(gql, form, admin, monkeypatch):
    from dajian.runtime import selectors

    def explode(*args, **kwargs):
        raise RuntimeError("secret database password in traceback")

    monkeypatch.setattr(selectors, "list_records", explode)
    response = gql.raw(RECORDS, {"first": 1}, as_user=admin)
    assert b"secret" not in response.content
    assert response.json()["errors"][0]["extensions"]["code"] == "INTERNAL_ERROR"


def test_parsed_documents_are_cached(gql, admin):
    from dajian.platform.graphql.view import documents

    documents.clear()
    gql(ME, as_user=admin)
    cached = documents.get(ME)
    gql(ME, as_user=admin)
    assert cached is not None and documents.get(ME) is cached


def _fewest_tokens(query: str) -> int:
    from graphql import GraphQLError, parse

    for limit in range(1, 200):
        try:
            parse(query, max_tokens=limit)
        except GraphQLError:
            continue
        return limit
    raise AssertionError("query too long for this helper")


def test_token_limit_exactly(gql, admin, settings):
    from dajian.platform.graphql.view import documents

    query = "{ me { username isAdmin } }"
    limit = _fewest_tokens(query)
    for allowed, ok in ((limit, True), (limit - 1, False)):
        documents.clear()
        settings.DAJIAN = {**settings.DAJIAN, "GRAPHQL_MAX_TOKENS": allowed}
        result = gql(query, as_user=admin)
        assert ("errors" not in result) is ok, result
    documents.clear()


def test_query_size_limit_exactly(gql, admin, settings):
    settings.DAJIAN = {**settings.DAJIAN, "GRAPHQL_MAX_QUERY_BYTES": len(ME)}
    assert gql.raw(ME, as_user=admin).status_code == 200
    settings.DAJIAN = {**settings.DAJIAN, "GRAPHQL_MAX_QUERY_BYTES": len(ME) - 1}
    response = gql.raw(ME, as_user=admin)
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
