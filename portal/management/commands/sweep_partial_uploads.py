"""Remove partial uploads a stopped web worker left behind: for cron on web machines with no worker."""

from django.core.management.base import BaseCommand
from django.template.defaultfilters import filesizeformat

from portal.partial_uploads import partial_uploads_sweep, stale_after_seconds, upload_temp_dir


class Command(BaseCommand):
    help = (
        "Delete partial uploads (upload-*.part in PORTAL_UPLOAD_TEMP_DIR) that nobody has written to for "
        "PORTAL_UPLOAD_STALE_SECONDS: those of web workers killed mid-upload. Uploads in progress are kept."
    )

    def handle(self, *args, **options) -> None:
        result = partial_uploads_sweep()
        self.stdout.write(
            f"{upload_temp_dir()}: removed {result.removed} partial upload(s) "
            f"({filesizeformat(result.removed_bytes)}) untouched for over {stale_after_seconds()} seconds; "
            f"{result.kept} still being received."
        )
