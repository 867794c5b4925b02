"""The mutation base class, typed errors and the request's actor.

Every mutation subclasses :class:`DajianMutation` and declares in ``Meta`` a
``description``, the ``permission`` it needs (a short name shown in the schema
description) and its ``error_type``; a mutation without them fails at import.
Services raise :class:`DajianError`; the base class turns it into ``errors``.
"""

from __future__ import annotations

import logging
from typing import Any

import graphene
from graphql import GraphQLError

from dajian.platform.actors import Actor
from dajian.platform.errors import CommonErrorCode, DajianError, ErrorDetail

logger = logging.getLogger(__name__)


class Error(graphene.ObjectType):
    """A problem with the input: ``field`` is the top-level input key, ``path`` the JSON
    path inside it (``lines.2.qty``), ``code`` stable, ``message`` localised."""

    field = graphene.String()
    path = graphene.String()
    code = graphene.String(required=True)
    message = graphene.String(required=True)


def to_error_objects(errors: list[ErrorDetail]) -> list[Error]:
    return [Error(field=e.field, path=e.path, code=e.code, message=e.message) for e in errors]


def current_actor(info: Any) -> Actor:
    """The caller's actor, or a GraphQL error ``UNAUTHENTICATED``."""
    actor = getattr(info.context, "actor", None)
    if actor is None or not actor:
        raise GraphQLError(
            "Sign in, or send an API token, as a member of a workspace.",
            extensions={"code": CommonErrorCode.UNAUTHENTICATED},
        )
    return actor  # type: ignore[no-any-return]


def graphql_error(exc: DajianError) -> GraphQLError:
    """A query's refusal as a GraphQL error carrying the first problem's code."""
    first = exc.errors[0]
    return GraphQLError(
        first.message,
        extensions={
            "code": first.code,
            "errors": [e.as_dict() for e in exc.errors],
        },
    )


class DajianMutation(graphene.Mutation):
    """Base of every mutation: ``Meta`` must give ``description``, ``permission`` and
    ``error_type``; subclasses implement ``perform(root, info, actor, **input)`` and
    return the payload; :class:`DajianError` becomes ``errors``."""

    errors = graphene.List(graphene.NonNull(Error), required=True)

    class Meta:
        abstract = True

    @classmethod
    def __init_subclass_with_meta__(  # type: ignore[override]
        cls,
        description: str | None = None,
        permission: str | None = None,
        error_type: type | None = None,
        **options: Any,
    ) -> None:
        if not description or not permission or error_type is None:
            raise TypeError(f"{cls.__name__}.Meta needs description, permission and error_type")
        cls.permission = permission
        cls.error_type = error_type
        super().__init_subclass_with_meta__(
            description=f"{description}\n\nPermission: {permission}.", **options
        )

    @classmethod
    def mutate(cls, root: Any, info: Any, **kwargs: Any) -> Any:
        actor = current_actor(info)
        try:
            return cls.perform(root, info, actor, **kwargs)
        except DajianError as exc:
            return cls(errors=to_error_objects(exc.errors), **cls.empty_lists())

    @classmethod
    def empty_lists(cls) -> dict[str, list[Any]]:
        """Required list fields other than ``errors`` (e.g. ``warnings``) on refusal."""
        return {name: [] for name in getattr(cls, "extra_list_fields", ())}

    @classmethod
    def perform(cls, root: Any, info: Any, actor: Actor, input: Any) -> Any:
        raise NotImplementedError
