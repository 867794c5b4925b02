"""GraphQL of the app templates: ``templates``, ``installTemplate`` (contract v1) and
the app lifecycle (upgrade, uninstall, export)."""

from __future__ import annotations

import graphene


class TemplatesQuery(graphene.ObjectType):
    pass


class TemplatesMutation(graphene.ObjectType):
    pass
