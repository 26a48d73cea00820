"""Django admin: users (with their live sessions), the read-only audit log, and API clients
(accounts/admin_clients.py)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from accounts import (
    admin_clients,  # noqa: F401  (registers the API clients' admin)
    recovery,
    services,
    sessions,
)
from accounts.audit import Kind, audit_record
from accounts.exceptions import (
    AccountsError,
    AlreadyVerified,
    InvalidCredentials,
    SessionNotFound,
    Throttled,
    Unavailable,
)
from accounts.models import AuditEvent, User
from accounts.types import Session
from api.caller import caller_of


def _unless_store_down(request: HttpRequest, view: Any, *args: Any, **kwargs: Any) -> Any:
    """The view's answer; if a dependency failed (its transaction rolled back), back to the
    same page with an error message, never a 500."""
    try:
        return view(request, *args, **kwargs)
    except Unavailable as exc:
        # The view may have cycled the admin's session key inside the rolled-back transaction
        # (the password form does, update_session_auth_hash): the new key has no row. A fresh
        # one, made now, keeps the admin logged in.
        request.session.cycle_key()
        messages.error(request, f"{exc.detail} Nothing was changed.")
        return HttpResponseRedirect(request.get_full_path())


def _actor(request: HttpRequest) -> User | None:
    """The staff user behind an admin request, for the audit row."""
    return request.user if isinstance(request.user, User) else None


class AdminLoginForm(AdminAuthenticationForm):
    """The admin's login, under the API login's throttling and audit: the admin is no free
    password oracle."""

    def clean(self) -> dict[str, Any]:
        email, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if not (email and password and self.request is not None):
            return super().clean()
        caller = caller_of(self.request)
        try:
            user = services.user_credentials_check(email=email, password=password, caller=caller)
        except Throttled as exc:
            raise ValidationError(
                f"Too many attempts; retry in {exc.retry_after} s.", code="throttled"
            ) from exc
        except InvalidCredentials as exc:
            raise self.get_invalid_login_error() from exc
        except Unavailable as exc:
            raise ValidationError(
                "The service is temporarily unavailable; retry shortly.", code="unavailable"
            ) from exc
        self.confirm_login_allowed(user)
        self.user_cache = user
        audit_record(kind=Kind.LOGIN_OK, user=user, caller=caller, detail="admin")
        return self.cleaned_data


admin.site.login_form = AdminLoginForm


class UserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = ("email",)
        field_classes = {"email": forms.EmailField}


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    form = UserEditForm
    add_form = UserCreationForm
    list_display = ("email", "email_verified", "is_active", "is_staff", "date_joined", "last_login")
    list_filter = ("email_verified", "is_active", "is_staff", "is_superuser")
    actions = ["send_verification", "send_password_reset"]
    search_fields = ("email",)
    ordering = ("-date_joined",)
    readonly_fields = ("email_verified", "date_joined", "last_login", "live_sessions")
    fieldsets = (
        (None, {"fields": ("email", "email_verified", "password")}),
        ("Status", {"fields": ("is_active", "is_staff", "is_superuser")}),
        ("Permissions", {"fields": ("groups", "user_permissions")}),
        ("Dates", {"fields": ("date_joined", "last_login")}),
        ("Sessions", {"fields": ("live_sessions",)}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    filter_horizontal = ("groups", "user_permissions")

    @admin.display(description="live sessions")
    def live_sessions(self, user: User) -> str:
        try:
            count = len(sessions.sessions_list(user=user))
        except AccountsError:
            return "token store unavailable"
        url = reverse("admin:accounts_user_sessions", args=[user.pk])
        return format_html('{} live &middot; <a href="{}">view and end sessions</a>', count, url)

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        deactivated = change and "is_active" in form.changed_data and not obj.is_active
        if change and "email" in form.changed_data:
            obj.email_verified = False  # nobody has proven the new address yet
        super().save_model(request, obj, form, change)
        if deactivated:
            services.user_deactivate(user=obj, caller=caller_of(request), actor=_actor(request))

    # Every change that ends sessions needs the token store (the generation floor rises in the
    # change's transaction): without it the change is rolled back, and the page says so.

    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return _unless_store_down(request, super().changeform_view, *args, **kwargs)

    def delete_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return _unless_store_down(request, super().delete_view, *args, **kwargs)

    def changelist_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return _unless_store_down(request, super().changelist_view, *args, **kwargs)

    def user_change_password(
        self, request: HttpRequest, id: str, form_url: str = ""
    ) -> HttpResponse:
        return _unless_store_down(request, self._change_password, id, form_url)

    def _change_password(self, request: HttpRequest, id: str, form_url: str) -> HttpResponse:
        # A password set here is a password change: the new password and the end of every
        # session are one transaction, so neither happens without the other.
        with transaction.atomic():
            response = super().user_change_password(request, id, form_url)
            if request.method == "POST" and response.status_code == HTTPStatus.FOUND:
                user = get_object_or_404(User, pk=unquote(id))
                sessions.sessions_end_all(
                    user=user,
                    kind=AuditEvent.Kind.PASSWORD_CHANGED,
                    caller=caller_of(request),
                    actor=_actor(request),
                )
        return response

    def delete_model(self, request: HttpRequest, obj: User) -> None:
        services.user_delete(user=obj, caller=caller_of(request), actor=_actor(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            services.user_delete(user=user, caller=caller_of(request), actor=_actor(request))

    @admin.action(description="Mail a verification link to the selected users")
    def send_verification(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        caller, actor, sent = caller_of(request), _actor(request), 0
        for user in queryset:
            try:
                recovery.email_verify_request(user=user, caller=caller, actor=actor, throttle=False)
                sent += 1
            except AlreadyVerified:
                continue
        messages.success(request, f"Verification mail queued for {sent} user(s).")

    @admin.action(description="Mail a password reset link to the selected users")
    def send_password_reset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        caller, actor = caller_of(request), _actor(request)
        for user in queryset:
            recovery.password_reset_request(
                email=user.email, caller=caller, actor=actor, throttle=False
            )
        messages.success(request, f"Password reset mail queued for {queryset.count()} user(s).")

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view(self.sessions_view)
        return [
            path("<uuid:user_id>/sessions/", view, name="accounts_user_sessions"),
            *super().get_urls(),
        ]

    def sessions_view(self, request: HttpRequest, user_id: str) -> HttpResponse:
        user = get_object_or_404(User, pk=user_id)
        if not self.has_change_permission(request, user):
            return HttpResponse(status=HTTPStatus.FORBIDDEN)
        if request.method == "POST":
            self._end_sessions(request, user)
            return HttpResponseRedirect(request.path)
        live: list[Session] = []
        try:
            live = sessions.sessions_list(user=user)
        except AccountsError:
            messages.error(request, "The token store is unavailable.")
        context = {
            **self.admin_site.each_context(request),
            "title": f"Live sessions of {user.email}",
            "subject": user,
            "sessions": live,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/accounts/user/sessions.html", context)

    def _end_sessions(self, request: HttpRequest, user: User) -> None:
        session_id = request.POST.get("session_id", "")
        caller, actor = caller_of(request), _actor(request)
        try:
            if session_id:
                sessions.session_end(user=user, session_id=session_id, caller=caller, actor=actor)
                messages.success(request, "Session ended.")
            else:
                sessions.sessions_end_all(
                    user=user, kind=AuditEvent.Kind.LOGOUT_ALL, caller=caller, actor=actor
                )
                messages.success(request, "Every session ended.")
        except SessionNotFound:
            messages.warning(request, "That session had already ended.")
        except AccountsError:
            messages.error(request, "The token store is unavailable; nothing was ended.")


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "email", "client_id", "actor_email", "ip", "session_id")
    list_filter = ("kind", "created_at")
    search_fields = ("email", "client_id", "actor_email", "session_id", "ip", "request_id")
    date_hierarchy = "created_at"
    list_select_related = ("user",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
