"""URL routes: GraphQL, uploads, sign-in, the home page, health."""

from django.contrib.auth import views as auth_views
from django.http import HttpRequest, JsonResponse
from django.urls import include, path

from dajian.platform.graphql.view import graphql_view
from dajian.runtime.views import home


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("", home, name="home"),
    path("graphql/", graphql_view, name="graphql"),
    path("api/uploads/", include("dajian.platform.views")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(next_page="/"), name="logout"),
    path("healthz", health, name="health"),
]
