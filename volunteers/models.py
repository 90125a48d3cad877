"""Volunteers: profiles and their status history, invitations, the code of conduct, vetting, welfare
screening, exposure and stand-downs. Rules about them live in services.py and deployability.py."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from portal.fields import EncryptedTextField
from portal.models import Scheme
from volunteers.rules import LEVEL_CHOICES


class SchemeVolunteerSettings(models.Model):
    """What a force decided differently from the platform defaults (empty = use the default)."""

    scheme_path = "scheme"

    scheme = models.OneToOneField(Scheme, on_delete=models.CASCADE, related_name="volunteer_settings")
    required_level = models.CharField(max_length=5, choices=LEVEL_CHOICES, blank=True)
    renewal_years = models.JSONField(default=dict, blank=True, help_text='e.g. {"MV": 7, "NPPV3": 5}')
    integrity_review_months = models.PositiveSmallIntegerField(null=True, blank=True)
    screening_months = models.PositiveSmallIntegerField(null=True, blank=True)
    heavy_exposure_screening_months = models.PositiveSmallIntegerField(null=True, blank=True)
    heavy_exposure_minutes_per_year = models.PositiveIntegerField(null=True, blank=True)
    exposure_threshold_minutes = models.PositiveIntegerField(null=True, blank=True)
    exposure_window_days = models.PositiveSmallIntegerField(null=True, blank=True)
    invitation_days = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = "scheme volunteer settings"
        verbose_name_plural = "scheme volunteer settings"

    def __str__(self) -> str:
        return f"Settings of {self.scheme}"


class Volunteer(models.Model):
    scheme_path = "scheme"

    class Status(models.TextChoices):
        APPLICANT = "applicant", "Applicant"
        IN_VETTING = "in_vetting", "In vetting"
        VETTED = "vetted", "Vetted"
        ACCREDITED = "accredited", "Accredited"
        SUSPENDED = "suspended", "Suspended"
        WITHDRAWN = "withdrawn", "Withdrawn"
        REFUSED = "refused", "Refused"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="volunteer")
    scheme = models.ForeignKey(Scheme, on_delete=models.PROTECT, related_name="volunteers")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.APPLICANT, db_index=True)
    date_of_birth = models.DateField(null=True, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    address_history = models.JSONField(
        default=list, blank=True, help_text="Addresses for the last five years, newest first (vetting needs them)."
    )
    exhibit_initials = models.CharField(
        max_length=8, blank=True, help_text="Set at accreditation; unique within the scheme (e.g. AB, AB2)."
    )
    identity_protected = models.BooleanField(
        default=False,
        help_text="Their statements, exhibits and continuity show the pseudonym, never their name or e-mail; their "
        "true identity goes to the CPS only, in the bundle's sensitive part.",
    )
    pseudonym = models.CharField(max_length=100, blank=True, help_text="The name they give evidence under.")
    accredited_at = models.DateTimeField(null=True, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Copies of two dates the records hold, kept by volunteers.services.vetting_dates_refresh whenever a
    # clearance is decided or an integrity review recorded, never set otherwise: the officer's "falling due"
    # list finds them through an index instead of working out every volunteer's latest records. Deployability
    # still reads the records themselves.
    current_clearance_expires = models.DateTimeField(null=True, blank=True, editable=False, db_index=True)
    next_integrity_review = models.DateTimeField(null=True, blank=True, editable=False, db_index=True)

    class Meta:
        ordering = ["user__full_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["scheme", "exhibit_initials"],
                condition=~models.Q(exhibit_initials=""),
                name="volunteers_initials_unique_in_scheme",
            ),
            models.UniqueConstraint(
                fields=["scheme", "pseudonym"],
                condition=~models.Q(pseudonym=""),
                name="volunteers_pseudonym_unique_in_scheme",
            ),
        ]

    def __str__(self) -> str:
        return self.user.get_full_name()


class StatusChange(models.Model):
    """Who moved a volunteer between states, when and why: the history is never rewritten."""

    scheme_path = "volunteer__scheme"

    volunteer = models.ForeignKey(Volunteer, on_delete=models.PROTECT, related_name="status_changes")
    from_status = models.CharField(max_length=12, choices=Volunteer.Status.choices)
    to_status = models.CharField(max_length=12, choices=Volunteer.Status.choices)
    reason = models.TextField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.get_from_status_display()} → {self.get_to_status_display()}"


class Invitation(models.Model):
    scheme_path = "scheme"

    scheme = models.ForeignKey(Scheme, on_delete=models.PROTECT, related_name="invitations")
    email = models.EmailField()
    full_name = models.CharField(max_length=200, blank=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Invitation for {self.email}"


class CodeOfConduct(models.Model):
    """A published version of the scheme code of conduct; a new version needs everyone to re-accept."""

    scheme_path = None

    version = models.PositiveIntegerField(unique=True)
    title = models.CharField(max_length=200, default="Volunteer code of conduct")
    text = models.TextField(help_text="Plain text; blank lines separate paragraphs.")
    published_at = models.DateTimeField(default=timezone.now)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-version"]
        verbose_name = "code of conduct"
        verbose_name_plural = "code of conduct versions"

    def __str__(self) -> str:
        return f"{self.title}, version {self.version}"


class CodeOfConductAcceptance(models.Model):
    scheme_path = "user__scheme"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="conduct_acceptances")
    code = models.ForeignKey(CodeOfConduct, on_delete=models.PROTECT, related_name="acceptances")
    accepted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "code"], name="volunteers_conduct_accept_once")]

    def __str__(self) -> str:
        return f"{self.user} accepted version {self.code.version}"


class VettingRecord(models.Model):
    """One vetting application and its decision; renewal starts a new record."""

    # Which record is "the latest" wherever one is asked for (deployability, the kept dates, reminders).
    LATEST = ("-decided_at", "-id")

    scheme_path = "volunteer__scheme"

    class Outcome(models.TextChoices):
        PENDING = "pending", "In progress"
        CLEARED = "cleared", "Cleared"
        REFUSED = "refused", "Refused"

    volunteer = models.ForeignKey(Volunteer, on_delete=models.PROTECT, related_name="vetting_records")
    level = models.CharField(max_length=5, choices=LEVEL_CHOICES)
    outcome = models.CharField(max_length=8, choices=Outcome.choices, default=Outcome.PENDING)
    reasons = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    integrity_review_due = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_level_display()} — {self.get_outcome_display()}"


class VettingCheck(models.Model):
    scheme_path = "record__volunteer__scheme"

    class Kind(models.TextChoices):
        IDENTITY = "identity", "Identity (DBS Route 1 documents seen)"
        PNC_PND = "pnc_pnd", "PNC and PND"
        LOCAL_INTELLIGENCE = "local_intel", "Local intelligence"
        FINANCIAL = "financial", "Financial checks"
        REFERENCE_1 = "reference_1", "First reference"
        REFERENCE_2 = "reference_2", "Second reference"
        INTERVIEW = "interview", "Interview"

    class Result(models.TextChoices):
        SATISFACTORY = "satisfactory", "Satisfactory"
        CONCERN = "concern", "Concern raised"

    record = models.ForeignKey(VettingRecord, on_delete=models.PROTECT, related_name="checks")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    result = models.CharField(max_length=12, choices=Result.choices)
    notes = models.TextField(blank=True, help_text="For identity: the documents seen (one Group 1 plus two others).")
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    done_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["done_at"]
        constraints = [models.UniqueConstraint(fields=["record", "kind"], name="volunteers_one_check_per_kind")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.get_result_display()}"


class AdverseInformation(models.Model):
    """Adverse information triggers an early vetting review and closes the gate until resolved."""

    scheme_path = "volunteer__scheme"

    volunteer = models.ForeignKey(Volunteer, on_delete=models.PROTECT, related_name="adverse_information")
    summary = models.TextField()
    reported_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reported_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolution = models.TextField(blank=True)

    class Meta:
        ordering = ["-reported_at"]
        verbose_name_plural = "adverse information"

    def __str__(self) -> str:
        return f"Adverse information about {self.volunteer} ({'resolved' if self.resolved_at else 'open'})"


class IntegrityReview(models.Model):
    LATEST = ("-done_at", "-id")  # which review is "the latest", wherever one is asked for

    scheme_path = "volunteer__scheme"

    volunteer = models.ForeignKey(Volunteer, on_delete=models.PROTECT, related_name="integrity_reviews")
    done_at = models.DateTimeField(default=timezone.now)
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    notes = models.TextField(blank=True)
    next_due = models.DateTimeField()

    class Meta:
        ordering = ["-done_at"]

    def __str__(self) -> str:
        return f"Integrity review of {self.volunteer}"


class ScreeningRecord(models.Model):
    """A psychological screening. Outcome, restrictions and notes are for welfare officers only."""

    LATEST = ("-screened_on", "-id")  # which screening is "the latest" (also Meta.ordering and its index)

    scheme_path = "scheme"
    audit_compartment = "welfare"  # audit rows about it show person-level detail to welfare staff only

    class Kind(models.TextChoices):
        BASELINE = "baseline", "Baseline (at selection)"
        PRE_DEPLOYMENT = "pre_deployment", "Pre-deployment"
        PERIODIC = "periodic", "Periodic"
        POST_INCIDENT = "post_incident", "Post-incident (TRiM)"

    class Outcome(models.TextChoices):
        FIT = "fit", "Fit"
        FIT_WITH_RESTRICTIONS = "fit_restricted", "Fit with restrictions"
        UNFIT = "unfit", "Unfit"

    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="screenings")
    scheme = models.ForeignKey(Scheme, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    screened_on = models.DateField()
    provider = models.CharField(max_length=200)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    restrictions = EncryptedTextField(blank=True)
    clinical_notes = EncryptedTextField(blank=True)
    next_due = models.DateTimeField()
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-screened_on", "-id"]
        indexes = [models.Index(fields=["person", "-screened_on", "-id"], name="volunteers_screening_latest")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} screening of {self.person} on {self.screened_on:%-d %B %Y}"


class ScreeningRequest(models.Model):
    """An open request for welfare to screen someone (after an incident or heavy exposure)."""

    scheme_path = "scheme"
    audit_compartment = "welfare"  # audit rows about it show person-level detail to welfare staff only

    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="screening_requests")
    scheme = models.ForeignKey(Scheme, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(
        max_length=16, choices=ScreeningRecord.Kind.choices, default=ScreeningRecord.Kind.POST_INCIDENT
    )
    reason = models.TextField()
    opened_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    screening = models.ForeignKey(ScreeningRecord, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["-opened_at"]
        indexes = [models.Index(fields=["person", "closed_at"], name="volunteers_request_open")]

    def __str__(self) -> str:
        return f"Screening request for {self.person}"


class ExposureEvent(models.Model):
    """Minutes of exposure to distressing material, per person (volunteers and officers alike)."""

    scheme_path = "scheme"
    audit_compartment = "welfare"  # audit rows about it show person-level detail to welfare staff only

    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="exposures")
    scheme = models.ForeignKey(Scheme, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now, db_index=True)
    minutes = models.PositiveIntegerField()
    source = models.CharField(max_length=200, help_text="What was seen or heard, without the material itself.")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["person", "at"], name="volunteers_exposure_window")]

    def __str__(self) -> str:
        return f"{self.minutes} minutes for {self.person}"


class StandDown(models.Model):
    """A welfare stand-down: automatic at the exposure threshold, or placed by a welfare officer."""

    scheme_path = "scheme"
    audit_compartment = "welfare"  # audit rows about it show person-level detail to welfare staff only

    class Reason(models.TextChoices):
        EXPOSURE = "exposure", "Exposure threshold reached"
        WELFARE = "welfare", "Welfare decision"

    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="stand_downs")
    scheme = models.ForeignKey(Scheme, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=10, choices=Reason.choices)
    detail = EncryptedTextField(blank=True)
    at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    lift_reason = EncryptedTextField(blank=True)  # why it was safe to lift: welfare detail, like `detail`

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["person", "lifted_at"], name="volunteers_standdown_active")]

    def __str__(self) -> str:
        return f"Stand-down of {self.person} ({self.get_reason_display().lower()})"


class ReminderSent(models.Model):
    """Remembers each expiry reminder sent, so the daily job never sends one twice."""

    scheme_path = "volunteer__scheme"

    volunteer = models.ForeignKey(Volunteer, on_delete=models.PROTECT, related_name="+")
    subject = models.CharField(max_length=20)  # vetting / integrity / screening
    due_at = models.DateTimeField()
    days_before = models.SmallIntegerField()
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["volunteer", "subject", "due_at", "days_before"], name="volunteers_reminder_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.subject} reminder for {self.volunteer}, {self.days_before} days before"


class RecordsDisposal(models.Model):
    """One kind of a departed volunteer's records (vetting, training, welfare) was disposed of under the retention
    rules: which kind and when, so the volunteer's own personal-data file can say so. Written by the retention
    app's disposal, which keeps the full tombstone; never changed (a trigger refuses it on PostgreSQL)."""

    scheme_path = "scheme"

    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    scheme = models.ForeignKey(Scheme, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=10)  # vetting, training or welfare
    disposed_at = models.DateTimeField()

    class Meta:
        ordering = ["disposed_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind.capitalize()} records of {self.person} disposed of"
