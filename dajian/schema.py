"""The one GraphQL schema, composed from each part's ``graphql`` module."""

import graphene


class Query(graphene.ObjectType):
    ping = graphene.String()

    def resolve_ping(root, info):
        return "pong"


schema = graphene.Schema(query=Query)
