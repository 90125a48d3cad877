"""Each person keeps a copy of their latest screening's next due date (see
volunteers.services.screening_dates_refresh), filled here from the records already held."""

from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def fill_from_records(apps, schema_editor):
    # The same as screening_dates_refresh, on the models as they are at this migration.
    user = apps.get_model("portal", "User")
    screening = apps.get_model("volunteers", "ScreeningRecord")
    latest = screening.objects.filter(person=OuterRef("pk")).order_by("-screened_on", "-id")
    user.objects.update(next_screening_due=Subquery(latest.values("next_due")[:1]))


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0006_cache_fallback"),
        ("volunteers", "0005_vetting_dates_on_volunteer"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="next_screening_due",
            field=models.DateTimeField(blank=True, db_index=True, editable=False, null=True),
        ),
        migrations.RunPython(fill_from_records, migrations.RunPython.noop),
    ]
