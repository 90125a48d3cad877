"""Training: versioned modules, questions, attempts and certificates."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Module(models.Model):
    scheme_path = None

    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=200)
    summary = models.CharField(max_length=300, blank=True)
    order = models.PositiveSmallIntegerField(default=0)
    mandatory = models.BooleanField(default=True)
    validity_months = models.PositiveSmallIntegerField(default=12)
    pass_mark = models.PositiveSmallIntegerField(default=80, help_text="Percent needed to pass.")
    estimated_minutes = models.PositiveSmallIntegerField(default=30)

    class Meta:
        ordering = ["order", "title"]

    def __str__(self) -> str:
        return self.title


class ModuleVersion(models.Model):
    """Published content and questions; never edited once published — a change is a new version."""

    scheme_path = None

    module = models.ForeignKey(Module, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    content_markdown = models.TextField()
    content_html = models.TextField(help_text="Sanitised HTML rendered from the Markdown at publication.")
    learning_outcomes = models.JSONField(default=list)
    published_at = models.DateTimeField(default=timezone.now)
    source_sha256 = models.CharField(
        max_length=64,
        blank=True,
        help_text="Hash of the curriculum file it was published from (seeding is idempotent).",
    )
    recertify_by = models.DateField(
        null=True,
        blank=True,
        help_text="If set, certificates for earlier versions stop counting on this date.",
    )

    class Meta:
        ordering = ["module", "-number"]
        constraints = [models.UniqueConstraint(fields=["module", "number"], name="training_version_unique")]

    def __str__(self) -> str:
        return f"{self.module.title}, version {self.number}"


class Question(models.Model):
    scheme_path = None

    class Kind(models.TextChoices):
        SINGLE = "single", "Choose one answer"
        MULTIPLE = "multiple", "Choose all answers that apply"

    version = models.ForeignKey(ModuleVersion, on_delete=models.PROTECT, related_name="questions")
    order = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=8, choices=Kind.choices)
    text = models.TextField()
    explanation = models.TextField()

    class Meta:
        ordering = ["order"]

    def __str__(self) -> str:
        return self.text[:80]


class Choice(models.Model):
    scheme_path = None

    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="choices")
    order = models.PositiveSmallIntegerField()
    text = models.TextField()
    is_correct = models.BooleanField(default=False)

    class Meta:
        ordering = ["order"]

    def __str__(self) -> str:
        return self.text[:80]


class Attempt(models.Model):
    scheme_path = "user__scheme"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="attempts")
    version = models.ForeignKey(ModuleVersion, on_delete=models.PROTECT, related_name="attempts")
    seed = models.BigIntegerField(help_text="Fixes this attempt's question and choice order.")
    started_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)
    answers = models.JSONField(default=dict, blank=True)
    score_percent = models.PositiveSmallIntegerField(null=True, blank=True)
    passed = models.BooleanField(null=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["user", "version"])]

    def __str__(self) -> str:
        return f"Attempt by {self.user} at {self.version}"


class AttemptReset(models.Model):
    """An officer allows further attempts after the maximum was reached."""

    scheme_path = "user__scheme"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    module = models.ForeignKey(Module, on_delete=models.PROTECT, related_name="+")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"Attempts reset for {self.user} on {self.module}"


class Certificate(models.Model):
    scheme_path = "user__scheme"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="certificates")
    module = models.ForeignKey(Module, on_delete=models.PROTECT, related_name="certificates")
    version = models.ForeignKey(ModuleVersion, on_delete=models.PROTECT, related_name="certificates")
    attempt = models.OneToOneField(Attempt, on_delete=models.PROTECT, related_name="certificate")
    code = models.CharField(max_length=64, unique=True)
    passed_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    revoke_reason = models.TextField(blank=True)
    pdf_path = models.CharField(max_length=200, blank=True)
    pdf_sha256 = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-passed_at"]
        indexes = [models.Index(fields=["user", "module", "-passed_at"])]

    def __str__(self) -> str:
        return f"{self.module.title} certificate of {self.user}"

    @property
    def display_code(self) -> str:
        from training.codes import grouped

        return grouped(self.code)


class DisposedCertificate(models.Model):
    """A certificate whose record was disposed of under the retention rules (the holder's training records, some
    years after they left): only its code and when, so the public check can say "no longer held" rather than
    "no such certificate". Written by the retention app's disposal; the holder and module are not kept."""

    code = models.CharField(max_length=64, unique=True)
    disposed_at = models.DateTimeField()

    class Meta:
        ordering = ["-disposed_at"]

    def __str__(self) -> str:
        return f"Certificate {self.code} (disposed of)"
