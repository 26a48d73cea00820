from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0007_api_clients'),
    ]

    operations = [
        migrations.AddField(
            model_name='auditevent',
            name='request_id',
            field=models.CharField(blank=True, max_length=64),
        ),
    ]
