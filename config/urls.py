from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, URLResolver, path

from api import views
from api.api import api

urlpatterns: list[URLPattern | URLResolver] = [
    path("api/", api.urls),
    path(".well-known/jwks.json", views.jwks, name="jwks"),
    # RFC 8414's path, and OpenID discovery's, which many verifiers look up first: one document.
    path(
        ".well-known/oauth-authorization-server",
        views.authorization_server_metadata,
        name="oauth-authorization-server",
    ),
    path(
        ".well-known/openid-configuration",
        views.authorization_server_metadata,
        name="openid-configuration",
    ),
    path("health/live", views.live, name="health-live"),
    path("health/ready", views.ready, name="health-ready"),
]
# ADMIN_ENABLED=false: no admin at all (its path is a plain 404).
if settings.ADMIN_ENABLED:
    urlpatterns.append(path("admin/", admin.site.urls))

handler400 = views.bad_request
handler404 = views.not_found
handler500 = views.server_error
