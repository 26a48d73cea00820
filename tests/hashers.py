"""A fast password hasher for tests whose subject is not hashing.

Its hashes are ordinary `pbkdf2_sha256` ones (one iteration), so servers started by the tests,
on the production hasher list, verify them too, and upgrade them to Argon2id on login.
"""

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class FastPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    iterations = 1
