"""The one GraphQL schema, composed from each part's ``graphql`` module."""

import graphene

from dajian.builder.graphql.schema import BuilderMutation, BuilderQuery
from dajian.platform.graphql.schema import PlatformMutation, PlatformQuery
from dajian.runtime.graphql.schema import RuntimeMutation, RuntimeQuery


class Query(PlatformQuery, BuilderQuery, RuntimeQuery, graphene.ObjectType):
    pass


class Mutation(PlatformMutation, BuilderMutation, RuntimeMutation, graphene.ObjectType):
    pass


schema = graphene.Schema(query=Query, mutation=Mutation)
