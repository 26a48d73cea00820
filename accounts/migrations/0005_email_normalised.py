# Existing addresses take the new stored form (NFKC, case fold, IDNA: `casefold` is not `lower`
# for ß and others) and get their look-alike key. Two rows that become one identity are not
# merged silently: the migration stops and names them, for an operator to decide.

import accounts.validators
from django.db import migrations, models

from accounts.identity import email_normalize, email_skeleton


def _normalise(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    rows = list(User.objects.order_by("date_joined").values_list("pk", "email"))
    owners: dict[str, list[str]] = {}
    for pk, email in rows:
        owners.setdefault(email_skeleton(email), []).append(f"{email} (id {pk})")
    clashes = [names for names in owners.values() if len(names) > 1]
    if clashes:
        lines = "".join(f"\n  {', '.join(names)}" for names in clashes)
        raise RuntimeError(
            "these accounts are one identity under the new email normalisation (NFKC, case "
            "fold, IDNA, look-alikes); change or delete all but one of each group in the admin "
            f"or the database, then migrate again:{lines}"
        )
    for pk, email in rows:
        User.objects.filter(pk=pk).update(
            email=email_normalize(email), email_skeleton=email_skeleton(email)
        )


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0004_lock_audit_kinds"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="email_skeleton",
            field=models.CharField(editable=False, max_length=1024, null=True),
        ),
        migrations.RunPython(_normalise, migrations.RunPython.noop, elidable=False),
        migrations.AlterField(
            model_name="user",
            name="email_skeleton",
            field=models.CharField(editable=False, max_length=1024, unique=True),
        ),
        migrations.AlterField(
            model_name="user",
            name="email",
            field=models.EmailField(
                max_length=254,
                unique=True,
                validators=[accounts.validators.validate_email_identity],
                verbose_name="email address",
            ),
        ),
    ]
