"""Argon2id at OWASP's minimum cost (m=19 MiB, t=2, p=1)."""

from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idHasher(Argon2PasswordHasher):
    """Argon2id tuned to ~30 ms here; older hashes (PBKDF2, Django's Argon2) upgrade on login."""

    algorithm = "argon2id"
    time_cost = 2
    memory_cost = 19 * 1024
    parallelism = 1
