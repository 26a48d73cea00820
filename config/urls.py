from django.contrib import admin
from django.urls import path

from api import views
from api.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path(".well-known/jwks.json", views.jwks, name="jwks"),
    path("health/live", views.live, name="health-live"),
    path("health/ready", views.ready, name="health-ready"),
]

handler400 = views.bad_request
handler404 = views.not_found
handler500 = views.server_error
