"""Test-only URLs and middleware for tests/test_asgi_executor.py: the service's own URLs plus
probe views, and recorders that note which thread runs each piece of a request's sync work.

Nothing here is part of the service: tests point ROOT_URLCONF and MIDDLEWARE at it with
override_settings and build their own ASGI handler.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from accounts.models import User
from config.urls import urlpatterns as service_urlpatterns

# Set per request by the tests' ASGI wrapper, from the X-Probe header; read by every recorder.
probe_id: contextvars.ContextVar[str] = contextvars.ContextVar("probe_id", default="")


@dataclass(frozen=True)
class Record:
    probe: str
    where: str
    thread: int  # threading.get_ident()
    thread_name: str
    in_atomic: bool
    autocommit: bool
    connected: bool  # the thread's database connection is open


RECORDS: list[Record] = []


def record(where: str) -> None:
    current = threading.current_thread()
    RECORDS.append(
        Record(
            probe=probe_id.get(),
            where=where,
            thread=threading.get_ident(),
            thread_name=current.name,
            in_atomic=connection.in_atomic_block,
            autocommit=connection.get_autocommit() if connection.connection else True,
            connected=connection.connection is not None,
        )
    )


class _Recorder:
    where = "middleware"

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        record(f"{self.where}-in")
        response = self.get_response(request)
        record(f"{self.where}-out")
        return response


class OuterRecorderMiddleware(_Recorder):
    """Sync only, outermost: Django runs it, and the chain below it, through the adapters."""

    where = "outer"


class InnerRecorderMiddleware(_Recorder):
    where = "inner"


def probe(request: HttpRequest) -> JsonResponse:
    record("view")
    return JsonResponse({"thread": threading.get_ident()})


class _Rollback(Exception):
    pass


@csrf_exempt
def txn(request: HttpRequest) -> JsonResponse:
    """Create a user in a transaction; ?fail=1 rolls it back; ?hold=S sleeps inside it."""
    record("view")
    email = request.GET["email"]
    hold = float(request.GET.get("hold", "0"))
    try:
        with transaction.atomic():
            record("atomic-in")
            User.objects.create_user(email=email, password=None)
            if hold:
                time.sleep(hold)
            record("atomic-out")
            if request.GET.get("fail") == "1":
                raise _Rollback
    except _Rollback:
        return JsonResponse({"committed": False}, status=409)
    return JsonResponse({"committed": True})


urlpatterns = [
    path("probe/", probe),
    path("txn/", txn),
    *service_urlpatterns,
]
