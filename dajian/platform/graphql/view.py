"""The ``/graphql/`` endpoint.

Parsing and validating the same query text cost 2–3 ms per request, about a third of a
create, so documents and their validation result are cached by query text. Limits:
request size, tokens, depth, aliases; introspection only in debug; exceptions never
reach clients (they are logged and answered with ``INTERNAL_ERROR``). Session requests
are CSRF-checked; ``Authorization: Bearer`` requests are not (no ambient credentials).
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.views.decorators.csrf import csrf_exempt
from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    execute,
    get_operation_ast,
    parse,
    specified_rules,
    validate,
)
from graphql.validation import NoSchemaIntrospectionCustomRule

from dajian.platform.errors import CommonErrorCode
from dajian.platform.graphql.limits import alias_limit_rule, depth_limit_rule

logger = logging.getLogger(__name__)
_CACHE_SIZE = 1000


class _DocumentCache:
    """LRU of ``query text → (document, validation errors)``."""

    def __init__(self) -> None:
        self._items: OrderedDict[str, tuple[DocumentNode | None, list[GraphQLError]]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    def get(self, query: str) -> tuple[DocumentNode | None, list[GraphQLError]] | None:
        with self._lock:
            found = self._items.get(query)
            if found is not None:
                self._items.move_to_end(query)
            return found

    def put(self, query: str, value: tuple[DocumentNode | None, list[GraphQLError]]) -> None:
        with self._lock:
            self._items[query] = value
            while len(self._items) > _CACHE_SIZE:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


documents = _DocumentCache()


def _rules() -> list[Any]:
    limits = settings.DAJIAN
    rules = [
        *specified_rules,
        depth_limit_rule(limits["GRAPHQL_MAX_DEPTH"]),
        alias_limit_rule(limits["GRAPHQL_MAX_ALIASES"]),
    ]
    if not settings.DEBUG:
        rules.append(NoSchemaIntrospectionCustomRule)
    return rules


def prepare(schema: Any, query: str) -> tuple[DocumentNode | None, list[GraphQLError]]:
    """Parse and validate ``query`` once; later calls come from the cache."""
    cached = documents.get(query)
    if cached is not None:
        return cached
    try:
        document = parse(query, max_tokens=settings.DAJIAN["GRAPHQL_MAX_TOKENS"])
    except GraphQLError as exc:
        if "token" in exc.message.lower():
            exc.extensions = {"code": CommonErrorCode.LIMIT_EXCEEDED}
        result: tuple[DocumentNode | None, list[GraphQLError]] = (None, [exc])
    else:
        result = (document, validate(schema, document, _rules()))
    documents.put(query, result)
    return result


def _error_response(message: str, code: str, status: int) -> JsonResponse:
    return JsonResponse(
        {"errors": [{"message": message, "extensions": {"code": code}}]}, status=status
    )


def _format_error(error: GraphQLError) -> dict[str, Any]:
    if error.original_error is not None and not isinstance(error.original_error, GraphQLError):
        logger.error("GraphQL resolver failed", exc_info=error.original_error)
        return {
            "message": "Internal error.",
            "path": error.path,
            "extensions": {"code": CommonErrorCode.INTERNAL_ERROR},
        }
    formatted = error.formatted
    formatted.setdefault("extensions", {}).setdefault("code", "GRAPHQL_VALIDATION_FAILED")
    return formatted  # type: ignore[return-value]


def _parse_body(request: HttpRequest) -> dict[str, Any] | JsonResponse:
    max_bytes = settings.DAJIAN["GRAPHQL_MAX_QUERY_BYTES"] + settings.DAJIAN["MAX_RECORD_BYTES"]
    if len(request.body) > max_bytes:
        return _error_response("The request is too large.", CommonErrorCode.PAYLOAD_TOO_LARGE, 413)
    if request.method == "GET":
        body: Any = {
            "query": request.GET.get("query"),
            "operationName": request.GET.get("operationName"),
            "variables": json.loads(request.GET["variables"])
            if "variables" in request.GET
            else None,
        }
    else:
        try:
            body = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            return _error_response(
                "The body is not valid JSON.", CommonErrorCode.INVALID_INPUT, 400
            )
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        return _error_response(
            "Send a JSON object with a query.", CommonErrorCode.INVALID_INPUT, 400
        )
    if body.get("variables") is not None and not isinstance(body["variables"], dict):
        return _error_response("variables must be an object.", CommonErrorCode.INVALID_INPUT, 400)
    if len(body["query"]) > settings.DAJIAN["GRAPHQL_MAX_QUERY_BYTES"]:
        return _error_response("The query is too long.", CommonErrorCode.PAYLOAD_TOO_LARGE, 413)
    return body


def _never_awaitable(value: Any) -> bool:
    """Resolvers are synchronous; skipping graphql-core's per-field awaitable check saves
    about 5% of a large query."""
    return False


def _csrf_protected(request: HttpRequest) -> HttpResponse:
    """Stands in for the view in the CSRF check (the view itself is exempt so that
    token requests skip it)."""
    return HttpResponse()


@csrf_exempt
def graphql_view(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "POST"):
        return _error_response("Use POST.", CommonErrorCode.INVALID_INPUT, 405)
    if not getattr(request, "is_token_auth", False):
        reason = CsrfViewMiddleware(lambda r: HttpResponse()).process_view(
            request, _csrf_protected, (), {}
        )
        if reason is not None and request.method == "POST":
            return _error_response("CSRF check failed.", CommonErrorCode.PERMISSION_DENIED, 403)
    body = _parse_body(request)
    if isinstance(body, JsonResponse):
        return body
    from dajian.schema import schema

    graphql_schema = schema.graphql_schema
    document, errors = prepare(graphql_schema, body["query"])
    if errors or document is None:
        return JsonResponse({"errors": [_format_error(e) for e in errors]}, status=400)
    operation = get_operation_ast(document, body.get("operationName"))
    if (
        request.method == "GET"
        and isinstance(operation, OperationDefinitionNode)
        and operation.operation != OperationType.QUERY
    ):
        return _error_response("Mutations need POST.", CommonErrorCode.INVALID_INPUT, 405)
    result = execute(
        graphql_schema,
        document,
        context_value=request,
        variable_values=body.get("variables"),
        operation_name=body.get("operationName"),
        is_awaitable=_never_awaitable,
    )
    assert isinstance(result, ExecutionResult), "resolvers are synchronous"
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        payload["errors"] = [_format_error(e) for e in result.errors]
    return JsonResponse(payload, status=200, json_dumps_params={"ensure_ascii": False})
