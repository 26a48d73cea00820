"""Test settings: the real configuration, pointed at the local PostgreSQL and Redis by default."""

import os
import tempfile

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/auth_service")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("APP_ENV", "development")
# One development key for the test run and the servers it starts, outside the work tree.
os.environ.setdefault("STATE_DIR", tempfile.mkdtemp(prefix="auth-service-tests-"))

from config.settings import *  # noqa: F403

# Hashing is the subject of a few tests only (they ask for the `argon2` fixture).
PASSWORD_HASHERS = ["tests.hashers.FastPBKDF2PasswordHasher", *PASSWORD_HASHERS]  # noqa: F405
