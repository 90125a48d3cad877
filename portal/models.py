"""Ground-floor models every app stands on: schemes, users, the audit chain, jobs, staff invitations, notices."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


class Scheme(models.Model):
    """A police force's accredited-volunteer partnership scheme: the boundary of what anyone sees."""

    scheme_path = "self"

    name = models.CharField(max_length=200, unique=True)
    code = models.SlugField(max_length=20, unique=True, help_text="Short force code used in references, e.g. 'wmp'.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Force(models.Model):
    """A police force. Its deconfliction officers keep the force's register of identities of live police
    interest (evidence.RegisterEntry); they belong to the force, not to any scheme."""

    scheme_path = None  # platform-wide: a force is no scheme's; its register is scoped by force instead

    name = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **extra) -> User:
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra) -> User:
        extra.update(is_staff=True, is_superuser=True)
        return self._create(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in with their e-mail address; their roles are Groups (portal.roles)."""

    scheme_path = "scheme"

    email = models.EmailField("e-mail address", max_length=254, unique=True)
    full_name = models.CharField(max_length=200, blank=True)
    scheme = models.ForeignKey(
        Scheme,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="members",
        help_text="Volunteers, officers, welfare officers and scheme administrators belong to one scheme; "
        "court recipients and platform superusers to none.",
    )
    force = models.ForeignKey(
        Force,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="members",
        help_text="Deconfliction officers only: the police force whose register they keep.",
    )

    class RecipientKind(models.TextChoices):
        COURT = "court", "Court"
        DEFENCE = "defence", "Defence"
        CPS = "cps", "CPS prosecutor"

    recipient_kind = models.CharField(
        "receives bundles as",
        max_length=8,
        blank=True,
        choices=RecipientKind.choices,
        help_text="For court / CPS recipients only. Only a CPS prosecutor may be given a bundle's sensitive part "
        "(authorisation, persona and conduct, protected identities, MG6D).",
    )
    is_staff = models.BooleanField(default=False, help_text="Can sign in to the officer admin.")
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)
    # A copy of the latest welfare screening's next due date (a date, not an outcome: officers see it too),
    # kept by volunteers.services.screening_dates_refresh whenever a screening is recorded, never set
    # otherwise: the welfare console and the officer's home page sort and count by it through an index
    # instead of working out everyone's latest screening. Deployability still reads the records.
    next_screening_due = models.DateTimeField(null=True, blank=True, editable=False, db_index=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), name="portal_user_email_ci_unique")]
        ordering = ["email"]

    def __str__(self) -> str:
        return self.full_name or self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name or self.email


class AuditEvent(models.Model):
    """One row of the platform's single append-only, hash-chained audit log (DPA 2018 s.62).

    The actor is stored by value (id, e-mail, roles at that moment) so the row still says who acted
    after the account changes. `hash` = SHA-256(prev_hash + canonical JSON of the row): see
    portal/hashchain.py, which anyone can re-implement to check the chain.
    """

    scheme_path = "scheme"

    class Outcome(models.TextChoices):
        SUCCESS = "success", "Success"
        FAILURE = "failure", "Failure"
        DENIED = "denied", "Denied"

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_email = models.CharField(max_length=254, blank=True)
    actor_role = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=100, db_index=True)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    scheme_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    ip = models.CharField(max_length=45, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.SUCCESS)
    detail = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["id"]
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"#{self.pk} {self.action} by {self.actor_email or 'system'}"


class ChainAnchor(models.Model):
    """Where every hash chain stood at one moment, time-stamped by an RFC 3161 authority (portal/anchors.py).

    `statement` is the document the authority's token covers (by SHA-256 of its canonical JSON): the heads
    of the audit chain and of each custody chain written to since the previous anchor, and that anchor's
    digest, so anchors chain too. A database superuser can rewrite a chain whole, but not forge the
    authority's signature: `verify_audit` and `verify_custody` check the chains still pass through every
    anchored head. Append-only, in the database as well (migration 0010).
    """

    made_at = models.DateTimeField(default=timezone.now, db_index=True)
    digest = models.CharField(max_length=64, unique=True)
    previous_digest = models.CharField(max_length=64)
    statement = models.JSONField()
    token = models.BinaryField(help_text="The authority's time-stamp token (DER CMS ContentInfo).")
    stamped_at = models.DateTimeField(help_text="The time the authority put in its token.")
    tsa_url = models.CharField(max_length=500)

    class Meta:
        ordering = ["id"]
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"Anchor {self.digest[:12]}… time-stamped {self.stamped_at:%Y-%m-%d %H:%M} UTC"


class Job(models.Model):
    """The database's record of one background job; the broker only carries a pointer to it."""

    scheme_path = "scheme"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=100, db_index=True)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    scheme = models.ForeignKey(Scheme, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    payload = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED, db_index=True)
    stage = models.CharField(max_length=200, blank=True)
    progress = models.PositiveSmallIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=5)
    last_error = models.TextField(blank=True)
    result = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey("portal.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state", "heartbeat_at"]), models.Index(fields=["object_type", "object_id"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(progress__lte=100), name="portal_job_progress_0_100"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.state})"


class StaffInvitation(models.Model):
    """The single-use, expiring link that lets a new member of staff choose a password (which proves their
    address) and go on to set up MFA. Only the token's hash is stored; a new link replaces the old one."""

    scheme_path = "user__scheme"

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="staff_invitations")
    email = models.EmailField(help_text="Where the link was sent: the account's address at that moment.")
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "staff invitation"

    def __str__(self) -> str:
        return f"Invitation for {self.email}"


class Notice(models.Model):
    """Something that happened that a person should know of, shown in the portal (and e-mailed by
    portal.notifications). It says what happened and links to where to look, never evidence content."""

    scheme_path = "user__scheme"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notices")
    subject = models.CharField(max_length=200)
    text = models.TextField()
    url = models.CharField(max_length=500, blank=True, help_text="A path inside the portal.")
    # Set when an event may be reported more than once (each failing part of one bundle build): one notice.
    once = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "once"], condition=~models.Q(once=""), name="portal_notice_once_per_user"
            )
        ]

    def __str__(self) -> str:
        return self.subject


class FallbackCacheEntry(models.Model):
    """The table portal.cache.FailoverCache uses while Redis is down: the schema of Django's DatabaseCache
    (what `createcachetable` would make), created by a migration so every deployment has it."""

    cache_key = models.CharField(max_length=255, primary_key=True)
    value = models.TextField()
    expires = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "portal_cache_fallback"

    def __str__(self) -> str:
        return self.cache_key
