"""Tests against real servers: uvicorn, throw-away Redis servers, dependencies failing for real
(their helpers are tests/servers.py)."""
