"""Django admin for API clients: staff create, change, disable, enable, and rotate secrets; a
secret is shown once, on the page that made it, and never stored."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from accounts import clients
from accounts.exceptions import AccountsError, InvalidInput
from accounts.models import APIClient, User

_FORM_TEMPLATE = "admin/accounts/apiclient/form.html"
_SECRET_TEMPLATE = "admin/accounts/apiclient/secret.html"


def _actor(request: HttpRequest) -> User | None:
    return request.user if isinstance(request.user, User) else None


def _report(form: forms.BaseForm, error: InvalidInput) -> None:
    for problem in error.errors:
        field = problem["field"] if problem["field"] in form.fields else None
        form.add_error(field, problem["message"])


class APIClientForm(forms.ModelForm):
    class Meta:
        model = APIClient
        fields = ("name", "scope", "audience")
        help_texts = {
            "scope": "Space-separated scopes it may be granted; introspect: it may call "
            "the introspection endpoint. A change ends its tokens.",
            "audience": "The aud of its tokens (empty: JWT_AUDIENCE). A change ends its tokens.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["audience"].required = False

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        try:
            name, scope, audience = clients.client_fields_clean(
                name=data.get("name") or "",
                scope=data.get("scope") or "",
                audience=data.get("audience") or "",
            )
        except InvalidInput as exc:
            _report(self, exc)
            return data
        return {**data, "name": name, "scope": scope, "audience": audience}


class RotateForm(forms.Form):
    overlap = forms.IntegerField(
        min_value=0,
        label="Seconds the current secret keeps working",
        help_text="0: it stops at once.",
    )


@admin.register(APIClient)
class APIClientAdmin(admin.ModelAdmin):
    form = APIClientForm
    list_display = ("name", "client_id", "scope", "audience", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("name", "client_id")
    readonly_fields = (
        "client_id",
        "is_active",
        "created_by",
        "created_at",
        "previous_secret_until",
        "secret",
    )
    actions = ("disable", "enable")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # disable instead: the audit keeps naming the client

    @admin.display(description="secret")
    def secret(self, client: APIClient) -> str:
        url = reverse("admin:accounts_apiclient_rotate", args=[client.pk])
        return format_html('only its hash is kept &middot; <a href="{}">rotate the secret</a>', url)

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = APIClientForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            issued = clients.client_create(
                name=data["name"],
                scope=data["scope"],
                audience=data["audience"],
                actor=_actor(request),
            )
            return self._secret_page(request, issued, "created")
        return self._form_page(request, form, "Add API client")

    def save_model(self, request: HttpRequest, obj: APIClient, form: Any, change: bool) -> None:
        clients.client_update(
            client=obj, name=obj.name, scope=obj.scope, audience=obj.audience, actor=_actor(request)
        )

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view(self.rotate_view)
        return [
            path("<int:pk>/rotate/", view, name="accounts_apiclient_rotate"),
            *super().get_urls(),
        ]

    def rotate_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        client = get_object_or_404(APIClient, pk=pk)
        if not self.has_change_permission(request, client):
            raise PermissionDenied
        initial = {"overlap": int(settings.CLIENT_SECRET_OVERLAP.total_seconds())}
        form = RotateForm(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            issued = clients.client_rotate_secret(
                client=client,
                overlap=timedelta(seconds=form.cleaned_data["overlap"]),
                actor=_actor(request),
            )
            return self._secret_page(request, issued, "rotated")
        return self._form_page(request, form, f"Rotate the secret of {client}")

    @admin.action(description="Disable selected clients (their tokens die at once)")
    def disable(self, request: HttpRequest, queryset: QuerySet[APIClient]) -> None:
        self._each(request, queryset, clients.client_disable, "disabled")

    @admin.action(description="Enable selected clients")
    def enable(self, request: HttpRequest, queryset: QuerySet[APIClient]) -> None:
        self._each(request, queryset, clients.client_enable, "enabled")

    def _each(
        self, request: HttpRequest, queryset: QuerySet[APIClient], act: Any, done: str
    ) -> None:
        try:
            for client in queryset:
                act(client=client, actor=_actor(request))
        except AccountsError:
            messages.error(request, "The token store is unavailable; that client is unchanged.")
            return
        messages.success(request, f"{queryset.count()} client(s) {done}.")

    def _form_page(self, request: HttpRequest, form: forms.BaseForm, title: str) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, _FORM_TEMPLATE, context)

    def _secret_page(
        self, request: HttpRequest, issued: clients.IssuedSecret, done: str
    ) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": f"API client {done}",
            "client": issued.client,
            "secret": issued.secret,
            "opts": self.model._meta,
        }
        response = TemplateResponse(request, _SECRET_TEMPLATE, context)
        response["Cache-Control"] = "no-store"
        return response
