"""The one GraphQL schema, composed from each part's ``graphql`` module."""

import graphene

from dajian.app_templates.graphql import TemplatesMutation, TemplatesQuery
from dajian.builder.graphql.schema import BuilderMutation, BuilderQuery
from dajian.platform.graphql.schema import PlatformMutation, PlatformQuery
from dajian.runtime.graphql.schema import RuntimeMutation, RuntimeQuery


class Query(PlatformQuery, BuilderQuery, RuntimeQuery, TemplatesQuery, graphene.ObjectType):
    pass


class Mutation(
    PlatformMutation, BuilderMutation, RuntimeMutation, TemplatesMutation, graphene.ObjectType
):
    pass


schema = graphene.Schema(query=Query, mutation=Mutation)
