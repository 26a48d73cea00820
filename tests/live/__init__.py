"""Tests against real servers: uvicorn, throw-away Redis servers, dependencies failing for real.

This package's name is also the module `tests/live.py` (the servers' helpers, shared with the
in-process tests): a package wins over a module of the same name, so the package loads that
file and re-exports everything it defines. `from tests.live import uvicorn_server` keeps
working everywhere, and follows whatever `tests/live.py` becomes.
"""

import importlib.util
import sys
from pathlib import Path

_SERVERS = Path(__file__).resolve().parent.parent / "live.py"
_spec = importlib.util.spec_from_file_location("tests._live_servers", _SERVERS)
assert _spec is not None and _spec.loader is not None
_servers = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _servers
_spec.loader.exec_module(_servers)
globals().update({name: value for name, value in vars(_servers).items() if name[:2] != "__"})
