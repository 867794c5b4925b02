"""The GraphQL operations of the figures (public contract v1) and their request bodies."""

from __future__ import annotations

import json
import random
from typing import Any

import forms as bench_forms

CREATE_RECORD = """
mutation Create($input: CreateRecordInput!) {
  createRecord(input: $input) {
    record { id version }
    errors { field path code message }
  }
}
""".strip()

LIST_RECORDS = """
query List($app: String!, $form: String!, $filter: JSON, $first: Int) {
  records(app: $app, form: $form, filter: $filter, orderBy: ["-created_at"], first: $first) {
    edges { node { id data createdAt } }
    pageInfo { hasNextPage endCursor }
  }
}
""".strip()

# What a client asks for to render and validate a form (contract v1, schema.graphql).
FORM = """
query Form($app: String!, $key: String!) {
  form(app: $app, key: $key) {
    key name version jsonSchema layout titleFields
    fields {
      key type label help required readOnly default visibleIf requiredIf readonlyIf
      options uiHints rules { expression message code }
    }
    rules { key expression message severity fields }
  }
}
""".strip()

TYPENAME = "query Typename { __typename }"

PAGE_SIZE = 50


def adapt_to_schema(schema_sdl: str | None) -> dict[str, str]:
    """The operations with the JSON scalar's real name (``JSON`` or ``GenericScalar``)."""
    list_query = LIST_RECORDS
    if schema_sdl and "scalar JSON" not in schema_sdl and "scalar GenericScalar" in schema_sdl:
        list_query = list_query.replace("$filter: JSON", "$filter: GenericScalar")
    return {"create": CREATE_RECORD, "list": list_query, "form": FORM, "typename": TYPENAME}


def _body(query: str, variables: dict[str, Any] | None = None) -> str:
    payload: dict[str, Any] = {"query": query}
    if variables is not None:
        payload["variables"] = variables
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def create_bodies(query: str, count: int = 2000, seed: int = 2026) -> list[str]:
    """Distinct deals; ``__N__`` in the customer name is replaced by wrk's counter."""
    rng = random.Random(seed)
    bodies = []
    for _ in range(count):
        data = bench_forms.deal_data(rng)
        data["customer_name"] = f"{data['customer_name']} __N__"
        bodies.append(
            _body(
                query,
                {
                    "input": {
                        "app": bench_forms.APP_KEY,
                        "form": bench_forms.DEAL_FORM,
                        "data": data,
                    }
                },
            )
        )
    return bodies


def list_variables(stage: str) -> dict[str, Any]:
    return {
        "app": bench_forms.APP_KEY,
        "form": bench_forms.DEAL_FORM,
        "filter": {"field": bench_forms.SELECT_FIELD, "op": "eq", "value": stage},
        "first": PAGE_SIZE,
    }


def list_bodies(query: str) -> list[str]:
    return [_body(query, list_variables(stage)) for stage in bench_forms.STAGE_VALUES]


def form_bodies(query: str) -> list[str]:
    return [_body(query, {"app": bench_forms.APP_KEY, "key": bench_forms.RENDER_FORM})]


def typename_bodies(query: str) -> list[str]:
    return [_body(query)]


def check_operations(graphql_schema: Any, ops: dict[str, str]) -> dict[str, str]:
    """``{name: problem}`` for operations that do not validate against the schema."""
    from graphql import parse, validate

    problems = {}
    for name, query in ops.items():
        errors = validate(graphql_schema, parse(query))
        if errors:
            problems[name] = "; ".join(e.message for e in errors)
    return problems
