"""Every setting, read from the environment with safe development defaults (README lists each one)."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from urllib.parse import urlparse

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF

from portal.env import EnvError, env_bool, env_int, env_int_list, env_list, env_secret, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
# Absolute, so a web process and a worker started from different folders share the same files.
VAR_DIR = Path(env_str("PORTAL_VAR_DIR", str(BASE_DIR / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DJANGO_DEBUG", True)

_DEV_SECRET = "insecure-development-key-never-use-in-production-0123456789abcdef"  # noqa: S105
SECRET_KEY = env_secret("DJANGO_SECRET_KEY", _DEV_SECRET if DEBUG else "")
if not SECRET_KEY:
    raise EnvError("DJANGO_SECRET_KEY (or DJANGO_SECRET_KEY_FILE) must be set when DJANGO_DEBUG is false.")
if not DEBUG and (SECRET_KEY == _DEV_SECRET or len(SECRET_KEY) < 50):
    raise EnvError("DJANGO_SECRET_KEY must be at least 50 random characters in production.")

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise EnvError("DJANGO_ALLOWED_HOSTS must list the portal's host names when DJANGO_DEBUG is false.")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "portal.apps.PortalConfig",
    "portal.apps.PortalAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "guardian",
    "csp",
    "training",
    "volunteers",
    "evidence",
    "retention",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "portal.middleware.UnusableRequestMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "portal.middleware.AuditContextMiddleware",
    "portal.middleware.RequireMFAMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.portal",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------------
_DEFAULT_DB = f"sqlite:///{VAR_DIR / 'portal.sqlite3'}"
DATABASE_URL = env_str("DATABASE_URL", _DEFAULT_DB)
_db_scheme = urlparse(DATABASE_URL).scheme
if _db_scheme not in {"sqlite", "postgres", "postgresql", "pgsql"}:
    raise EnvError(f"DATABASE_URL has scheme {_db_scheme!r}: use postgresql://user@host:5432/name or sqlite:///path.")
try:
    _database = dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 600, minimum=0),
        conn_health_checks=True,
    )
except ValueError as exc:
    raise EnvError(f"DATABASE_URL cannot be parsed: {exc}") from None
if _database["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share the file: WAL lets readers run beside one writer, and IMMEDIATE
    # transactions take the write lock up front instead of failing with "database is locked".
    _database["CONN_MAX_AGE"] = 0
    _database["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    # A file, not memory, so a real worker process can share the test database.
    _database["TEST"] = {"NAME": str(VAR_DIR / "test-portal.sqlite3")}
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (allauth's rate limits need a real, shared cache) -------------------------------------
CACHE_URL = env_str("CACHE_URL", "")
if not CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }
elif CACHE_URL.startswith(("redis://", "rediss://")):
    # Redis, with the database standing in while Redis does not answer (portal/cache.py): an outage of the
    # cache must neither stop sign-in nor lift its rate limits. Short timeouts: a dead Redis costs little.
    CACHES = {
        "default": {
            "BACKEND": "portal.cache.FailoverCache",
            "LOCATION": CACHE_URL,
            "OPTIONS": {
                "retry_seconds": env_int("PORTAL_CACHE_RETRY_SECONDS", 10, minimum=1),
                "redis": {"socket_connect_timeout": 1, "socket_timeout": 2},
            },
        }
    }
elif CACHE_URL == "locmem://":
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
else:
    raise EnvError(f"CACHE_URL={CACHE_URL!r} is not supported: use redis://host:6379/1 or leave it empty.")

# --- Identity and accounts ----------------------------------------------------------------------
AUTH_USER_MODEL = "portal.User"
AUTHENTICATION_BACKENDS = [
    "portal.signed_in.PortalAuthenticationBackend",  # allauth's, with what every page asks of the person
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"

ACCOUNT_ADAPTER = "portal.adapters.AccountAdapter"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
# Addresses are proven by the single-use invitation link, so no separate verification e-mail.
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_REAUTHENTICATION_TIMEOUT = env_int("PORTAL_REAUTHENTICATION_SECONDS", 300, minimum=30)
# Behind a reverse proxy every request comes from the proxy: say how many proxies (each appending to
# X-Forwarded-For) stand in front of gunicorn, so rate limits and audit rows see the client (portal/client_ip.py).
PORTAL_TRUSTED_PROXY_COUNT = env_int("PORTAL_TRUSTED_PROXY_COUNT", 0, minimum=0)
ALLAUTH_TRUSTED_PROXY_COUNT = PORTAL_TRUSTED_PROXY_COUNT
ACCOUNT_RATE_LIMITS = {
    # Per address generous (a force's staff share one NAT address), per account strict.
    "login_failed": "30/m/ip,5/5m/key",
    "reset_password": "5/m/ip,3/15m/key",
    "reauthenticate": "5/5m/user",
    "change_password": "5/m/user",
}
# The public certificate verification page (portal/ratelimit.py, on the shared cache).
PORTAL_VERIFY_RATE_LIMIT = env_str("PORTAL_VERIFY_RATE_LIMIT", "30/m")
if not re.fullmatch(r"\d+/[smh]", PORTAL_VERIFY_RATE_LIMIT):
    raise EnvError(f"PORTAL_VERIFY_RATE_LIMIT={PORTAL_VERIFY_RATE_LIMIT!r} must look like 30/m (per s, m or h).")
MFA_ADAPTER = "portal.signed_in.PortalMFAAdapter"
MFA_SUPPORTED_TYPES = ["totp", "webauthn", "recovery_codes"]
MFA_TOTP_ISSUER = env_str("PORTAL_MFA_ISSUER", "Accredited Volunteer Portal")
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = DEBUG
MFA_PASSKEY_LOGIN_ENABLED = False

# Sessions stay in the database only (Django's default), not read through the cache: while Redis is down the
# cache falls back per process (portal/cache.py), and a session signed out meanwhile could come back from
# what Redis still held.
SESSION_COOKIE_AGE = env_int("PORTAL_SESSION_SECONDS", 8 * 3600, minimum=300)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# guardian: object permissions are facts recorded per object; there is no anonymous guardian user.
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = False
GUARDIAN_RENDER_403 = False

# --- Internationalisation: stored in UTC, shown in UK time ---------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

# --- Static files (GOV.UK Frontend compiled by npm, served by WhiteNoise) ------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("PORTAL_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
# Evidence, statements, certificates and bundles: a private folder on one host, or an S3-compatible bucket
# (AWS S3, MinIO, Ceph...) shared by the workers once they run on several machines. Never a public URL.


def s3_storage(
    bucket: str,
    *,
    prefix: str = "",
    endpoint_url: str = "",
    region: str = "",
    access_key: str = "",
    secret_key: str = "",
    encryption: str = "",
) -> dict:
    """The private storage on an S3-compatible bucket (django-storages). Without keys, boto3's own chain
    (instance role, AWS_* variables, ~/.aws) supplies the credentials."""
    return {
        "BACKEND": "portal.encrypted_s3.EncryptedS3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "location": prefix,
            "endpoint_url": endpoint_url or None,
            "region_name": region or None,
            "access_key": access_key or None,
            "secret_key": secret_key or None,
            "default_acl": None,  # the bucket's own policy: private, with no public access
            "file_overwrite": False,  # a stored exhibit is never replaced by another of the same name
            "max_memory_size": 8 * 1024 * 1024,  # a file read back spills to disk past this
            # e.g. AES256 or aws:kms: how the store encrypts each object at rest (unset: the bucket's default)
            "object_parameters": {"ServerSideEncryption": encryption} if encryption else {},
        },
    }


if env_str("PORTAL_S3_BUCKET") and bool(env_str("PORTAL_S3_ACCESS_KEY_ID")) != bool(
    env_secret("PORTAL_S3_SECRET_ACCESS_KEY")
):
    raise EnvError(
        "Set both PORTAL_S3_ACCESS_KEY_ID and PORTAL_S3_SECRET_ACCESS_KEY (or its _FILE), or neither to use "
        "boto3's own credentials (instance role, AWS_* variables, ~/.aws)."
    )
PRIVATE_STORAGE = (
    s3_storage(
        env_str("PORTAL_S3_BUCKET"),
        prefix=env_str("PORTAL_S3_PREFIX"),
        endpoint_url=env_str("PORTAL_S3_ENDPOINT_URL"),
        region=env_str("PORTAL_S3_REGION"),
        access_key=env_str("PORTAL_S3_ACCESS_KEY_ID"),
        secret_key=env_secret("PORTAL_S3_SECRET_ACCESS_KEY"),
        encryption=env_str("PORTAL_S3_SERVER_SIDE_ENCRYPTION"),
    )
    if env_str("PORTAL_S3_BUCKET")
    else {
        "BACKEND": "portal.encrypted_storage.EncryptedFileSystemStorage",
        "OPTIONS": {"location": str(Path(env_str("PORTAL_PRIVATE_STORAGE", str(VAR_DIR / "private"))))},
    }
)
STORAGES = {
    "default": PRIVATE_STORAGE,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if env_bool("PORTAL_STATIC_MANIFEST", not DEBUG)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# In development WhiteNoise serves straight from the app folders, so no collectstatic is needed.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
# No MEDIA_URL: nothing is served from a public media URL; every download passes a permission check.

# --- Security headers ---------------------------------------------------------------------------
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        # data: only for the MFA enrolment QR code.
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [SELF],
        "object-src": [NONE],
    }
}
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31_536_000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", True)
    if env_bool("DJANGO_BEHIND_TLS_PROXY", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- E-mail (invitations, notifications) --------------------------------------------------------
EMAIL_HOST = env_str("EMAIL_HOST", "")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "portal@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Celery (JSON only, acknowledged late, one message at a time per process) --------------------
_ALLOWED_BROKERS = ("redis", "rediss", "amqp", "amqps", "pyamqp", "sqla+sqlite", "sqla+postgresql")
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", f"sqla+sqlite:///{VAR_DIR / 'celery-broker.sqlite3'}")
_broker_scheme = CELERY_BROKER_URL.split("://", 1)[0]
if _broker_scheme not in _ALLOWED_BROKERS:
    raise EnvError(f"CELERY_BROKER_URL has scheme {_broker_scheme!r}: use one of {', '.join(_ALLOWED_BROKERS)}.")
_default_backend = (
    CELERY_BROKER_URL if _broker_scheme in {"redis", "rediss"} else f"db+sqlite:///{VAR_DIR / 'celery-results.sqlite3'}"
)
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", _default_backend)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 3600, minimum=10)
CELERY_TASK_SOFT_TIME_LIMIT = max(CELERY_TASK_TIME_LIMIT - 60, 5)
# A child that ends a task above this is replaced: rendering leaves caches behind (about 2 MB a bundle chunk).
CELERY_WORKER_MAX_MEMORY_PER_CHILD = env_int("CELERY_WORKER_MAX_MEMORY_PER_CHILD_KB", 300_000, minimum=50_000)
CELERY_BROKER_TRANSPORT_OPTIONS = (
    # Redis redelivers an unacknowledged message after the visibility timeout: it must outlast the
    # longest task, or a long job is started a second time while it still runs.
    {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 600} if _broker_scheme in {"redis", "rediss"} else {}
)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_RESULT_EXPIRES = 86400
CELERY_TASK_TRACK_STARTED = True
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# The time-stamping authority (PORTAL_TSA_URL, below) time-stamps where the audit chain and every custody
# chain stand this often (portal/anchors.py): a chain cut or rewritten behind an anchor is then caught.
PORTAL_ANCHOR_HOURS = env_int("PORTAL_ANCHOR_HOURS", 24, minimum=1)
# A job whose broker message is lost, or whose worker died, is found by this sweep and sent again.
CELERY_BEAT_SCHEDULE = {
    "jobs-sweep": {"task": "portal.jobs_sweep", "schedule": float(env_int("PORTAL_SWEEP_SECONDS", 60, minimum=5))},
    # Partial uploads a killed web worker left behind (where the worker shares the web machine's disk).
    "partial-uploads-sweep": {"task": "portal.partial_uploads_sweep", "schedule": 600.0},
    # Resumable uploads nobody continued for PORTAL_RESUMABLE_EXPIRY_HOURS.
    "evidence-expire-resumable-uploads": {"task": "evidence.expire_resumable_uploads", "schedule": 3600.0},
    # Records lapsed or cancelled authorisations (the policy already refuses at once) and tells the handler.
    "evidence-freeze-lapsed-taskings": {"task": "evidence.freeze_lapsed_taskings", "schedule": 300.0},
    # Time-stamps the heads of the audit and custody chains (does nothing, and says so, without a TSA).
    "portal-anchor-chains": {"task": "portal.anchor_chains", "schedule": float(PORTAL_ANCHOR_HOURS * 3600)},
    # Disposals whose content removal or signed certificate failed after approval are finished here.
    "retention-complete-disposals": {"task": "retention.complete_disposals", "schedule": 3600.0},
    # Daily, early morning UK time: vetting, integrity-review and screening expiry reminders.
    "volunteers-expiry-reminders": {
        "task": "volunteers.expiry_reminders",
        "schedule": crontab(hour=env_int("PORTAL_REMINDER_HOUR_UTC", 6, minimum=0), minute=0),
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Control tasks (recovery and housekeeping) have a queue of their own, so that after a crash the sweep does
# not wait behind the chunk renders it is there to rescue. Every worker machine runs a second, one-slot
# worker consuming only this queue (README: `celery -A portal worker -Q control -c 1`).
PORTAL_CONTROL_QUEUE = "control"
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = {
    name: {"queue": PORTAL_CONTROL_QUEUE}
    for name in (
        "portal.jobs_sweep",
        "portal.partial_uploads_sweep",
        "portal.anchor_chains",
        "retention.complete_disposals",
        "evidence.expire_resumable_uploads",
        "evidence.freeze_lapsed_taskings",
        "volunteers.expiry_reminders",
    )
}

# --- Background jobs: the database row, not the broker, is the source of truth -------------------
PORTAL_JOB_MAX_ATTEMPTS = env_int("PORTAL_JOB_MAX_ATTEMPTS", 5, minimum=1)
PORTAL_JOB_STALL_SECONDS = env_int("PORTAL_JOB_STALL_SECONDS", 300, minimum=10)
PORTAL_JOB_REQUEUE_SECONDS = env_int("PORTAL_JOB_REQUEUE_SECONDS", 600, minimum=10)

# --- Volunteer scheme defaults (College of Policing vetting periods, welfare practice); schemes may differ ---
PORTAL_INVITATION_DAYS = env_int("PORTAL_INVITATION_DAYS", 7, minimum=1)
PORTAL_REQUIRED_CLEARANCE = env_str("PORTAL_REQUIRED_CLEARANCE", "MV")
if PORTAL_REQUIRED_CLEARANCE not in {"RV", "MV", "NPPV1", "NPPV2", "NPPV3"}:
    raise EnvError(
        f"PORTAL_REQUIRED_CLEARANCE={PORTAL_REQUIRED_CLEARANCE!r} is not one of RV, MV, NPPV1, NPPV2, NPPV3."
    )
PORTAL_VETTING_RENEWAL_YEARS = {
    "RV": env_int("PORTAL_RENEWAL_YEARS_RV", 10, minimum=1),
    "MV": env_int("PORTAL_RENEWAL_YEARS_MV", 7, minimum=1),
    "NPPV1": env_int("PORTAL_RENEWAL_YEARS_NPPV1", 3, minimum=1),
    "NPPV2": env_int("PORTAL_RENEWAL_YEARS_NPPV2", 5, minimum=1),
    "NPPV3": env_int("PORTAL_RENEWAL_YEARS_NPPV3", 5, minimum=1),
}
PORTAL_INTEGRITY_REVIEW_MONTHS = env_int("PORTAL_INTEGRITY_REVIEW_MONTHS", 12, minimum=1)
PORTAL_SCREENING_MONTHS = env_int("PORTAL_SCREENING_MONTHS", 12, minimum=1)
PORTAL_HEAVY_EXPOSURE_SCREENING_MONTHS = env_int("PORTAL_HEAVY_EXPOSURE_SCREENING_MONTHS", 6, minimum=1)
PORTAL_HEAVY_EXPOSURE_MINUTES_PER_YEAR = env_int("PORTAL_HEAVY_EXPOSURE_MINUTES_PER_YEAR", 2400, minimum=1)
PORTAL_EXPOSURE_THRESHOLD_MINUTES = env_int("PORTAL_EXPOSURE_THRESHOLD_MINUTES", 600, minimum=1)
PORTAL_EXPOSURE_WINDOW_DAYS = env_int("PORTAL_EXPOSURE_WINDOW_DAYS", 30, minimum=1)
PORTAL_REMINDER_DAYS = env_int_list("PORTAL_REMINDER_DAYS", [30, 7, 0])

# --- Retention (retention/rules.py): the platform's periods; a scheme may lengthen them, never shorten them ------
# Case material is kept at least as long as the CPIA Code of Practice requires for its outcome (fixed in the
# rules), plus these months. Volunteers' records are kept for these years after they leave the scheme.
PORTAL_RETENTION_CASE_EXTRA_MONTHS = env_int("PORTAL_RETENTION_CASE_EXTRA_MONTHS", 0, minimum=0)
PORTAL_RETENTION_VETTING_YEARS = env_int("PORTAL_RETENTION_VETTING_YEARS", 6, minimum=1)
PORTAL_RETENTION_TRAINING_YEARS = env_int("PORTAL_RETENTION_TRAINING_YEARS", 6, minimum=1)
PORTAL_RETENTION_WELFARE_YEARS = env_int("PORTAL_RETENTION_WELFARE_YEARS", 6, minimum=1)

# Where people reach the portal: used in links that leave it (certificate PDFs, e-mails from jobs).
PORTAL_BASE_URL = env_str("PORTAL_BASE_URL", "http://127.0.0.1:8000")

# --- Evidence uploads: streamed to a temporary file while hashed, then moved into private storage ---
PORTAL_MAX_UPLOAD_BYTES = env_int("PORTAL_MAX_UPLOAD_BYTES", 2 * 1024**3, minimum=1024)
PORTAL_UPLOAD_TEMP_DIR = env_str("PORTAL_UPLOAD_TEMP_DIR", str(VAR_DIR / "uploads"))
Path(PORTAL_UPLOAD_TEMP_DIR).mkdir(parents=True, exist_ok=True)
# A partial upload nobody has written to for this long was left by a web worker that stopped mid-upload
# (portal.partial_uploads): removed at start-up and by the periodic sweep. Bytes are written as they arrive,
# so this is the longest a client may stall mid-upload, not the longest upload.
PORTAL_UPLOAD_STALE_SECONDS = env_int("PORTAL_UPLOAD_STALE_SECONDS", 3600, minimum=60)
# A resumable upload (evidence.resumable) nobody has continued for this long is removed: long enough for a
# volunteer to reopen her laptop the next working day. Its partial file counts against the upload folder.
PORTAL_RESUMABLE_EXPIRY_HOURS = env_int("PORTAL_RESUMABLE_EXPIRY_HOURS", 72, minimum=1)
# The most one request of a resumable upload carries: keep it under the reverse proxy's body-size limit.
PORTAL_RESUMABLE_CHUNK_BYTES = env_int("PORTAL_RESUMABLE_CHUNK_BYTES", 32 * 1024**2, minimum=256 * 1024)

# How long authorisations last when the officer does not say otherwise (RIPA 2000 periods).
PORTAL_AUTHORISATION_HOURS_URGENT = env_int("PORTAL_AUTHORISATION_HOURS_URGENT", 72, minimum=1)
PORTAL_AUTHORISATION_MONTHS = {
    "chis": env_int("PORTAL_AUTHORISATION_MONTHS_CHIS", 12, minimum=1),
    "directed": env_int("PORTAL_AUTHORISATION_MONTHS_DIRECTED", 3, minimum=1),
    "other": env_int("PORTAL_AUTHORISATION_MONTHS_OTHER", 3, minimum=1),
}

# Handover bundles: the scheme's signing key and certificate (PEM). `manage.py create_signing_key` makes a
# development pair at these paths; production mounts the force's own.
PORTAL_SIGNING_KEY_PATH = env_str("PORTAL_SIGNING_KEY_PATH", str(VAR_DIR / "signing" / "bundle-key.pem"))
PORTAL_SIGNING_CERT_PATH = env_str("PORTAL_SIGNING_CERT_PATH", str(VAR_DIR / "signing" / "bundle-cert.pem"))
# Every certificate the scheme signed with before a key rotation, and which were revoked (evidence/signing.py):
# bundles signed before a rotation still verify. Back it up with the key.
PORTAL_SIGNING_EARLIER_DIR = env_str("PORTAL_SIGNING_EARLIER_DIR", str(VAR_DIR / "signing" / "earlier"))
# An RFC 3161 time-stamping authority (its URL, and its certificate to trust): with both set, every bundle's
# signature carries the TSA's timestamp and the validation material to check it after the signing
# certificate expires (PAdES B-LTA). Unset, the bundle says its signing time is the portal's own clock.
PORTAL_TSA_URL = env_str("PORTAL_TSA_URL", "")
PORTAL_TSA_CERT_PATH = env_str("PORTAL_TSA_CERT_PATH", "")
PORTAL_BUNDLE_EMBED_MAX_BYTES = env_int("PORTAL_BUNDLE_EMBED_MAX_BYTES", 50 * 1024 * 1024, minimum=0)
# Past this total, natives go beside the PDF: it keeps the PDF a size that a court's PDF reader, which
# loads the file whole, opens comfortably (the writer itself streams them).
PORTAL_BUNDLE_EMBED_TOTAL_MAX_BYTES = env_int("PORTAL_BUNDLE_EMBED_TOTAL_MAX_BYTES", 150 * 1024 * 1024, minimum=0)
# A rendering chunk holds at most this many exhibits, and at most about this many pages of them (a long
# transcript fills a chunk alone): together they bound each worker's memory whatever the bundle's size.
PORTAL_BUNDLE_CHUNK_EXHIBITS = env_int("PORTAL_BUNDLE_CHUNK_EXHIBITS", 25, minimum=1)
PORTAL_BUNDLE_CHUNK_PAGES = env_int("PORTAL_BUNDLE_CHUNK_PAGES", 48, minimum=1)
# A transcript prints every message up to this many (about 5,000 pages); past it, the bundle says which
# messages are not printed and that they are in the native file, with its SHA-256. Never a silent cut.
PORTAL_BUNDLE_TRANSCRIPT_MAX_MESSAGES = env_int("PORTAL_BUNDLE_TRANSCRIPT_MAX_MESSAGES", 100_000, minimum=1)

# How long a bundle shared with a court or CPS recipient stays shared unless the officer chooses otherwise.
PORTAL_BUNDLE_SHARE_DAYS = env_int("PORTAL_BUNDLE_SHARE_DAYS", 28, minimum=1)

# The largest bundle PDF or package a person may check on /bundles/verify/ (verified in the request).
PORTAL_BUNDLE_VERIFY_MAX_BYTES = env_int("PORTAL_BUNDLE_VERIFY_MAX_BYTES", 512 * 1024**2, minimum=1024)

# Decoy conduct guard: regular expressions for instigating phrases (proposing to meet, initiating sexual
# content), checked against the persona's side of text transcripts. Empty = the built-in list
# (evidence/conduct_guard.py).
PORTAL_DECOY_PHRASES = env_list("PORTAL_DECOY_PHRASES")

# --- Training ----------------------------------------------------------------------------------------
PORTAL_TRAINING_MAX_ATTEMPTS = env_int("PORTAL_TRAINING_MAX_ATTEMPTS", 3, minimum=1)
PORTAL_TRAINING_COOLDOWN_MINUTES = env_int("PORTAL_TRAINING_COOLDOWN_MINUTES", 60, minimum=0)
PORTAL_TRAINING_EXPIRES_SOON_DAYS = env_int("PORTAL_TRAINING_EXPIRES_SOON_DAYS", 30, minimum=1)

# --- Encryption at rest of welfare data (portal/crypto.py): Fernet keys, newest first -------------
PORTAL_FIELD_KEYS = [key for key in env_secret("PORTAL_FIELD_KEYS", "").split(",") if key.strip()]
if not PORTAL_FIELD_KEYS:
    if not DEBUG:
        raise EnvError("PORTAL_FIELD_KEYS (or PORTAL_FIELD_KEYS_FILE) must be set when DJANGO_DEBUG is false.")
    # Development only: a key derived from the development secret, so `make demo` needs no set-up.
    PORTAL_FIELD_KEYS = [
        base64.urlsafe_b64encode(hashlib.sha256(b"field-keys:" + SECRET_KEY.encode()).digest()).decode()
    ]

# --- Encryption at rest of every stored file (portal/encrypted_storage.py): key-encryption keys, newest first.
# Each is 32 bytes in URL-safe base64. The first wraps new files' data keys; any in the list unwraps. To rotate:
# put a new key first, run `manage.py rotate_file_keys`, then drop the old one. Lose them all and every
# stored file is unreadable (docs/deployment.md).
PORTAL_FILE_KEYS = [key for key in env_secret("PORTAL_FILE_KEYS", "").split(",") if key.strip()]
if not PORTAL_FILE_KEYS:
    if not DEBUG:
        raise EnvError("PORTAL_FILE_KEYS (or PORTAL_FILE_KEYS_FILE) must be set when DJANGO_DEBUG is false.")
    # Development only, as the field keys above.
    PORTAL_FILE_KEYS = [base64.urlsafe_b64encode(hashlib.sha256(b"file-keys:" + SECRET_KEY.encode()).digest()).decode()]
for _key in PORTAL_FILE_KEYS:
    try:
        _length = len(base64.urlsafe_b64decode(_key.strip().encode("ascii")))
    except (ValueError, UnicodeEncodeError):
        _length = 0
    if _length != 32:
        raise EnvError(
            "PORTAL_FILE_KEYS holds a value that is not a 32-byte key in URL-safe base64: generate one with "
            '`python -c "import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())"`.'
        )

# --- Deconfliction (evidence/deconfliction): the blind-index keys, newest first, and the phone region ----
PORTAL_DECONFLICTION_KEYS = [key for key in env_secret("PORTAL_DECONFLICTION_KEYS", "").split(",") if key.strip()]
if not PORTAL_DECONFLICTION_KEYS:
    if not DEBUG:
        raise EnvError(
            "PORTAL_DECONFLICTION_KEYS (or PORTAL_DECONFLICTION_KEYS_FILE) must be set when DJANGO_DEBUG is false: "
            "the key shared by the installations that deconflict with each other (docs/deployment.md)."
        )
    # Development only, as the field keys above.
    PORTAL_DECONFLICTION_KEYS = [
        base64.urlsafe_b64encode(hashlib.sha256(b"deconfliction-keys:" + SECRET_KEY.encode()).digest()).decode()
    ]
# Phone numbers written without a country code are read as numbers of this region (ISO 3166 code).
PORTAL_DECONFLICTION_REGION = env_str("PORTAL_DECONFLICTION_REGION", "GB").upper()

# Django's own debug pages (tracebacks, every URL listed on a 404) are for developers. `make demo` turns them
# off, so people trying the portal meet its own error pages, and keeps every development convenience above.
DEBUG = DEBUG and env_bool("DJANGO_DEBUG_PAGES", True)

# --- Tests --------------------------------------------------------------------------------------
PORTAL_BROWSER_PATH = env_str("PORTAL_BROWSER_PATH", "/usr/bin/chromium")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("PORTAL_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
        "pikepdf": {"level": "WARNING"},
    },
}
