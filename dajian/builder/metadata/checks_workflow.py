"""Validation of workflow documents, and the checks workflows and chains share.

A document is checked in two passes, like a form definition: the meta-schema
(``schemas/workflow.schema.json``, with the size limits of ``settings.DAJIAN``), then,
when the shape is right, the meaning against a :class:`FormContext` (the form's
*published* fields, the workspace's roles, the app's chains). Every problem is returned
with a JSON path (``stages.2.requirements.fields.0``); an empty list means the document
can be saved. The checks are pure: the service builds the context with a few queries.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, NamedTuple

from django.conf import settings

from dajian.builder.definitions import RESERVED_NAMES
from dajian.builder.errors import MetadataErrorCode as Code
from dajian.builder.errors import metadata_message
from dajian.builder.fields.attachment import AttachmentField
from dajian.builder.fields.base import FieldType
from dajian.builder.jsonschema import compile_schema, iter_errors, meta_schema
from dajian.builder.metadata.workflow import ANY_STAGE
from dajian.platform import calendars, recipients
from dajian.platform.durations import Duration
from dajian.platform.errors import ErrorDetail
from dajian.platform.expressions import ExpressionError, compile_expression
from dajian.platform.recipients.base import Subject

Spec = Mapping[str, Any]


class ChainRef(NamedTuple):
    """An approval chain of the app as a workflow sees it."""

    form_key: str | None
    published: bool


@dataclass(frozen=True)
class FormContext:
    """What the semantic checks look at. ``fields`` are the field types of the form's
    published version; ``member_usernames`` are those of the usernames named in the
    document's user specs that belong to active members; ``chains`` are the app's
    approval chains by key; with ``require_published_chains`` (at publish) a transition
    may only name a published chain."""

    form_key: str
    fields: Mapping[str, FieldType]
    role_keys: frozenset[str]
    member_usernames: frozenset[str] = frozenset()
    chains: Mapping[str, ChainRef] = field(default_factory=dict)
    require_published_chains: bool = False

    @property
    def user_fields(self) -> list[str]:
        return [key for key, t in self.fields.items() if t.type == "user"]

    @property
    def expression_names(self) -> frozenset[str]:
        """Names an expression may read: the form's fields plus ``record``, ``user``,
        ``now`` (as in form rules)."""
        return frozenset(self.fields) | RESERVED_NAMES


# --- shared helpers ----------------------------------------------------------------------


def error(code: str, path: str, message_key: str | None = None, /, **params: Any) -> ErrorDetail:
    """An :class:`ErrorDetail` with the localised message of ``message_key`` (or ``code``);
    ``field`` is the first segment of ``path``, as for form definitions."""
    return ErrorDetail(
        code=str(code),
        message=metadata_message(message_key or str(code), **params),
        field=path.split(".")[0] if path else None,
        path=path,
    )


@cache
def _limited_validator(name: str, limits: tuple[tuple[tuple[str, ...], int], ...]) -> Any:
    schema = copy.deepcopy(meta_schema(name))
    for path, value in limits:
        node = schema
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value
    return compile_schema(schema)


def shape_errors(name: str, raw: Any, limits: Mapping[tuple[str, ...], str]) -> list[ErrorDetail]:
    """Meta-schema violations of ``raw``; ``limits`` maps schema locations of ``maxItems``
    to the ``settings.DAJIAN`` key that sets them (read on every call, so a changed
    setting applies at once). Codes are those of :mod:`dajian.builder.jsonschema`, except
    that an unknown key is ``UNKNOWN_PROPERTY``."""
    if not isinstance(raw, Mapping):
        return [
            ErrorDetail(
                code=Code.INVALID_DEFINITION, message="A document is a JSON object.", path=""
            )
        ]
    values = tuple((path, int(settings.DAJIAN[key])) for path, key in limits.items())
    errors = []
    for path, code, msg in iter_errors(_limited_validator(name, values), raw):
        code = "UNKNOWN_PROPERTY" if code == "UNKNOWN_FIELD" else code
        errors.append(ErrorDetail(code=code, message=msg, field=path.split(".")[0], path=path))
    return errors


def check_expression(source: str, path: str, names: frozenset[str]) -> list[ErrorDetail]:
    """Compile errors (with line:column) and names that are neither fields nor
    ``record``/``user``/``now``."""
    try:
        compiled = compile_expression(source)
    except ExpressionError as exc:
        where = f" at {exc.line}:{exc.column}" if exc.line is not None else ""
        return [
            ErrorDetail(
                code=exc.code,
                message=f"Invalid expression{where}: {exc.message}",
                field=path.split(".")[0],
                path=path,
            )
        ]
    return [
        error(Code.UNKNOWN_REFERENCE, path, key=n) for n in sorted(compiled.identifiers - names)
    ]


def check_duration(raw: Spec | None, path: str, business: bool = False) -> list[ErrorDetail]:
    """A duration is longer than zero and, on working time, one the calendar computes
    (at most ``MAX_BUSINESS_DAYS`` working days, hours and minutes worth as many days)."""
    duration = Duration.parse(raw, business)
    if duration is None:
        return []
    if duration.natural <= dt.timedelta(0):
        return [error(Code.INVALID_DURATION, path, "INVALID_DURATION:zero")]
    if duration.business and not calendars.within_business_limit(duration):
        return [error(Code.DURATION_TOO_LONG, path, max=calendars.MAX_BUSINESS_DAYS)]
    return []


def check_order(
    first: tuple[str, Spec | None], second: tuple[str, Spec | None], path: str, business: bool
) -> list[ErrorDetail]:
    """``first`` is shorter than ``second`` when both are given on the same clock."""
    a, b = Duration.parse(first[1], business), Duration.parse(second[1], business)
    if a is None or b is None or a.business != b.business or a.natural < b.natural:
        return []
    return [
        error(
            Code.INVALID_DURATION, path, "INVALID_DURATION:order", first=first[0], second=second[0]
        )
    ]


def mentioned_usernames(specs: Iterable[tuple[str, Spec]]) -> set[str]:
    """Usernames named by ``user`` specs (the service looks up which are members)."""
    return {u for _, spec in specs if spec.get("type") == "user" for u in spec.get("users", ())}


def check_recipients(specs: Iterable[tuple[str, Spec]], ctx: FormContext) -> list[ErrorDetail]:
    """Each spec through the recipients registry, plus: named users are members."""
    errors: list[ErrorDetail] = []
    for path, spec in specs:
        errors.extend(recipients.check_recipient_spec(spec, path, ctx.user_fields, ctx.role_keys))
        if spec.get("type") == "user":
            for j, username in enumerate(spec.get("users", ())):
                if username not in ctx.member_usernames:
                    errors.append(error(Code.UNKNOWN_USER, f"{path}.users.{j}", key=username))
    return errors


def duplicates(items: Iterable[Spec], path: str, name: str = "key") -> list[ErrorDetail]:
    """``DUPLICATE_KEY`` at ``<path>.<i>.key`` for every item whose key repeats."""
    items = list(items)
    counts = Counter(item[name] for item in items)
    return [
        error(Code.DUPLICATE_KEY, f"{path}.{i}.{name}", key=item[name])
        for i, item in enumerate(items)
        if counts[item[name]] > 1
    ]


# --- workflows ---------------------------------------------------------------------------

WORKFLOW_LIMITS: dict[tuple[str, ...], str] = {
    ("properties", "stages", "maxItems"): "MAX_WORKFLOW_STAGES"
}


def check_workflow_shape(raw: Any) -> list[ErrorDetail]:
    return shape_errors("workflow", raw, WORKFLOW_LIMITS)


def workflow_recipients(raw: Spec) -> Iterator[tuple[str, Spec]]:
    """``(path, spec)`` of every recipient spec in a workflow (time-limit notices)."""
    for i, stage in enumerate(raw["stages"]):
        limit = stage.get("time_limit") or {}
        for name in ("notify", "escalate_to"):
            for j, spec in enumerate(limit.get(name, ())):
                yield f"stages.{i}.time_limit.{name}.{j}", spec


def check_workflow_semantics(raw: Spec, ctx: FormContext) -> list[ErrorDetail]:
    """Every meaning problem of a document that passed :func:`check_workflow_shape`."""
    stages = {s["key"]: s for s in raw["stages"]}
    errors = duplicates(raw["stages"], "stages")
    for i, stage in enumerate(raw["stages"]):
        errors.extend(_check_stage(stage, f"stages.{i}", ctx))
    errors.extend(_check_initial(raw, stages))
    errors.extend(_check_transitions(raw.get("transitions", []), stages, ctx))
    errors.extend(check_recipients(workflow_recipients(raw), ctx))
    errors.extend(_no_submitter(workflow_recipients(raw)))
    return errors


def check_workflow_definition(raw: Any, ctx: FormContext) -> list[ErrorDetail]:
    """Shape first, then meaning (the meaning of a malformed document is not checked)."""
    return check_workflow_shape(raw) or check_workflow_semantics(raw, ctx)


def _no_submitter(specs: Iterable[tuple[str, Spec]]) -> list[ErrorDetail]:
    """A stage's recipients cannot name the submitter: only an approval request has one,
    so such a spec would resolve to nobody whenever the time limit fires."""
    errors = []
    for path, spec in specs:
        if spec.get("type") == Subject.SUBMITTER:
            errors.append(error(Code.NO_SUBMITTER, f"{path}.type"))
        elif spec.get("of") == Subject.SUBMITTER:
            errors.append(error(Code.NO_SUBMITTER, f"{path}.of"))
    return errors


def _check_initial(raw: Spec, stages: Mapping[str, Spec]) -> list[ErrorDetail]:
    key = raw.get("initial") or raw["stages"][0]["key"]
    path = "initial" if "initial" in raw else "stages.0.terminal"
    if key not in stages:
        return [error(Code.UNKNOWN_STAGE, path, key=key)]
    if stages[key].get("terminal"):
        return [error(Code.INITIAL_TERMINAL, path, key=key)]
    return []


def _check_stage(stage: Spec, path: str, ctx: FormContext) -> list[ErrorDetail]:
    errors: list[ErrorDetail] = []
    terminal = bool(stage.get("terminal"))
    for name in ("outcome", "reasons") if not terminal else ():
        if name in stage:
            errors.append(error(Code.TERMINAL_ONLY, f"{path}.{name}", what=name))
    for name in ("requirements", "time_limit") if terminal else ():
        if name in stage:
            errors.append(error(Code.NOT_ON_TERMINAL, f"{path}.{name}", what=name))
    errors.extend(duplicates(stage.get("reasons", []), f"{path}.reasons"))
    req = stage.get("requirements") or {}
    for j, key in enumerate(req.get("fields", [])):
        if key not in ctx.fields:
            errors.append(error(Code.UNKNOWN_FIELD, f"{path}.requirements.fields.{j}", key=key))
    for j, evidence in enumerate(req.get("evidence", [])):
        errors.extend(_check_evidence(evidence, f"{path}.requirements.evidence.{j}", ctx))
    for j, check in enumerate(req.get("checks", [])):
        where = f"{path}.requirements.checks.{j}"
        errors.extend(
            check_expression(check["expression"], f"{where}.expression", ctx.expression_names)
        )
        if "field" in check and check["field"] not in ctx.fields:
            errors.append(error(Code.UNKNOWN_FIELD, f"{where}.field", key=check["field"]))
    limit = stage.get("time_limit")
    if limit:
        business = bool(limit.get("business"))
        for name in ("warning", "overdue"):
            errors.extend(check_duration(limit.get(name), f"{path}.time_limit.{name}", business))
        errors.extend(
            check_order(
                ("warning", limit.get("warning")),
                ("overdue", limit.get("overdue")),
                f"{path}.time_limit.warning",
                business,
            )
        )
    return errors


def _check_evidence(evidence: Spec, path: str, ctx: FormContext) -> list[ErrorDetail]:
    key = evidence["field"]
    field_type = ctx.fields.get(key)
    if field_type is None:
        return [error(Code.UNKNOWN_FIELD, f"{path}.field", key=key)]
    if not isinstance(field_type, AttachmentField):
        return [error(Code.NOT_EVIDENCE_FIELD, f"{path}.field", key=key, type=field_type.type)]
    errors: list[ErrorDetail] = []
    if evidence.get("images_only") and field_type.accept and "image" not in field_type.accept:
        errors.append(error(Code.NOT_IMAGE_FIELD, f"{path}.images_only", key=key))
    wanted = int(evidence.get("min_count", 1))
    most = 1 if field_type.single else field_type.max_count
    if wanted > most:
        errors.append(
            error(Code.EVIDENCE_IMPOSSIBLE, f"{path}.min_count", key=key, max=most, min=wanted)
        )
    for name in ("min_age", "max_age"):
        errors.extend(check_duration(evidence.get(name), f"{path}.{name}"))
    errors.extend(
        check_order(
            ("min_age", evidence.get("min_age")),
            ("max_age", evidence.get("max_age")),
            f"{path}.min_age",
            False,
        )
    )
    return errors


def _check_transitions(
    transitions: list[Spec], stages: Mapping[str, Spec], ctx: FormContext
) -> list[ErrorDetail]:
    errors: list[ErrorDetail] = []
    seen: dict[tuple[str, str], int] = {}  # (from, to) → index of the first transition
    for i, t in enumerate(transitions):
        path = f"transitions.{i}"
        source, target = t["from"], t["to"]
        ok = True
        if source != ANY_STAGE and source not in stages:
            errors.append(error(Code.UNKNOWN_STAGE, f"{path}.from", key=source))
            ok = False
        elif source != ANY_STAGE and stages[source].get("terminal"):
            errors.append(error(Code.TRANSITION_FROM_TERMINAL, f"{path}.from", key=source))
            ok = False
        if target not in stages:
            errors.append(error(Code.UNKNOWN_STAGE, f"{path}.to", key=target))
            ok = False
        if source == target:
            errors.append(error(Code.SELF_TRANSITION, f"{path}.to"))
            ok = False
        if ok:
            # "*" stands for every non-terminal stage but the target: an explicit
            # transition between the same stages would be ambiguous.
            sources = (
                [k for k, s in stages.items() if not s.get("terminal") and k != target]
                if source == ANY_STAGE
                else [source]
            )
            for s in sources:
                first = seen.setdefault((s, target), i)
                if first != i:
                    errors.append(
                        error(Code.DUPLICATE_TRANSITION, path, other=first, source=s, key=target)
                    )
                    break
        for j, role in enumerate(t.get("roles", [])):
            if role not in ctx.role_keys:
                errors.append(error(Code.UNKNOWN_ROLE, f"{path}.roles.{j}", key=role))
        if "guard" in t:
            errors.extend(check_expression(t["guard"], f"{path}.guard", ctx.expression_names))
        if "approval" in t:
            errors.extend(_check_approval(t["approval"], f"{path}.approval", ctx))
    return errors


def _check_approval(key: str, path: str, ctx: FormContext) -> list[ErrorDetail]:
    chain = ctx.chains.get(key)
    if chain is None:
        return [error(Code.UNKNOWN_CHAIN, path, key=key)]
    if chain.form_key != ctx.form_key:
        return [
            error(
                Code.CHAIN_FORM_MISMATCH, path, key=key, found=chain.form_key, expected=ctx.form_key
            )
        ]
    if ctx.require_published_chains and not chain.published:
        return [error(Code.CHAIN_NOT_PUBLISHED, path, key=key)]
    return []
