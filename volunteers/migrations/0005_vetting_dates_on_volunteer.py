"""Each volunteer keeps a copy of the latest clearance's expiry and the next integrity review date (see
volunteers.services.vetting_dates_refresh), filled here from the records already held."""

from django.db import migrations, models
from django.db.models import OuterRef, Subquery
from django.db.models.functions import Coalesce


def fill_from_records(apps, schema_editor):
    # The same as vetting_dates_refresh, on the models as they are at this migration.
    volunteer = apps.get_model("volunteers", "Volunteer")
    vetting = apps.get_model("volunteers", "VettingRecord")
    review = apps.get_model("volunteers", "IntegrityReview")
    cleared = vetting.objects.filter(volunteer=OuterRef("pk"), outcome="cleared").order_by("-decided_at", "-id")
    reviewed = review.objects.filter(volunteer=OuterRef("pk")).order_by("-done_at", "-id")
    volunteer.objects.update(
        current_clearance_expires=Subquery(cleared.values("expires_at")[:1]),
        next_integrity_review=Coalesce(
            Subquery(reviewed.values("next_due")[:1]), Subquery(cleared.values("integrity_review_due")[:1])
        ),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("volunteers", "0004_identity_protection"),
    ]

    operations = [
        migrations.AddField(
            model_name="volunteer",
            name="current_clearance_expires",
            field=models.DateTimeField(blank=True, db_index=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="volunteer",
            name="next_integrity_review",
            field=models.DateTimeField(blank=True, db_index=True, editable=False, null=True),
        ),
        migrations.RunPython(fill_from_records, migrations.RunPython.noop),
    ]
