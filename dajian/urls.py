"""URL routes: GraphQL, uploads, health."""

from django.http import JsonResponse
from django.urls import include, path

from dajian.platform.graphql.view import graphql_view


def health(request):
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("graphql/", graphql_view, name="graphql"),
    path("healthz", health, name="health"),
    path("api/uploads/", include("dajian.platform.views")),
]
