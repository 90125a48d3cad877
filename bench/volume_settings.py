"""Settings of the volume benchmark's own gunicorn (bench/volume.py): the portal's settings unchanged, but
for a URL map that adds the baseline view. The portal itself never serves that URL."""

from portal.settings import *  # noqa: F403

ROOT_URLCONF = "bench.volume_urls"

# Seeding sends the portal's notifications (assignments, shares, failed bundles): nobody reads them here.
EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
