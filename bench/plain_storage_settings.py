"""Settings of the exhibit upload benchmark's second gunicorn (bench/exhibit_upload.py): the portal's settings
unchanged but for the default storage, a plain FileSystemStorage at the same folder, so the same run can show
what encrypting every stored file costs an upload. Benchmark only: the portal has no setting that stores
files unencrypted, and must not get one."""

from django.core.exceptions import ImproperlyConfigured

from portal.settings import *  # noqa: F403
from portal.settings import STORAGES

if STORAGES["default"]["BACKEND"] != "portal.encrypted_storage.EncryptedFileSystemStorage":
    raise ImproperlyConfigured("The upload benchmark compares folder storages: unset PORTAL_S3_BUCKET.")

STORAGES = {
    **STORAGES,
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": STORAGES["default"]["OPTIONS"]["location"]},
    },
}
