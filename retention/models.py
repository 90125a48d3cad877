"""Retention records: a tasking's case outcome, legal holds, and a scheme's own (longer) retention periods."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from portal.display import when
from portal.models import Scheme
from retention import rules


class CaseOutcome(models.Model):
    """What became of the case a tasking belongs to: the fact the retention rules read (retention/rules.py).
    Recorded and changed only through retention.services.outcome_record, which audits every change."""

    scheme_path = "tasking__scheme"

    class Outcome(models.TextChoices):  # the values of retention.rules.Outcome, in the same order
        OPEN = "open", rules.OUTCOME_LABELS[rules.Outcome.OPEN]
        CHARGED = "charged", rules.OUTCOME_LABELS[rules.Outcome.CHARGED]
        NO_FURTHER_ACTION = "nfa", rules.OUTCOME_LABELS[rules.Outcome.NO_FURTHER_ACTION]
        CONVICTED = "convicted", rules.OUTCOME_LABELS[rules.Outcome.CONVICTED]
        ACQUITTED = "acquitted", rules.OUTCOME_LABELS[rules.Outcome.ACQUITTED]
        DISCONTINUED = "discontinued", rules.OUTCOME_LABELS[rules.Outcome.DISCONTINUED]

    tasking = models.OneToOneField("evidence.Tasking", on_delete=models.PROTECT, related_name="case_outcome")
    outcome = models.CharField(max_length=12, choices=Outcome.choices, default=Outcome.OPEN)
    decided_on = models.DateField(null=True, blank=True)
    convicted_on = models.DateField(null=True, blank=True)
    sentence = models.CharField(max_length=300, blank=True)
    custodial = models.BooleanField(default=False)
    release_on = models.DateField(null=True, blank=True)
    appeal_pending = models.BooleanField(default=False)
    appeal_determined_on = models.DateField(null=True, blank=True)
    note = models.TextField(blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Outcome of {self.tasking.reference}: {self.get_outcome_display()}"

    def facts(self) -> rules.CaseFacts:
        return rules.CaseFacts(
            outcome=self.outcome,
            decided_on=self.decided_on,
            convicted_on=self.convicted_on,
            custodial=self.custodial,
            release_on=self.release_on,
            appeal_pending=self.appeal_pending,
            appeal_determined_on=self.appeal_determined_on,
        )


class LegalHold(models.Model):
    """A hold on a tasking (and everything of it), one exhibit, or a person's records: while it stands nothing it
    covers may be disposed of, whatever its retention date. Placed and lifted through retention.services only;
    never deleted or rewritten (a trigger refuses it on PostgreSQL): a lifted hold stays on the record."""

    scheme_path = "scheme"

    class Kind(models.TextChoices):
        APPEAL = "appeal", "Appeal"
        REVIEW = "review", "Review (CCRC application, victim's right to review, case review)"
        CIVIL_CLAIM = "civil_claim", "Civil claim"
        OTHER = "other", "Other"

    scheme = models.ForeignKey(Scheme, on_delete=models.PROTECT, related_name="+")
    tasking = models.ForeignKey(
        "evidence.Tasking", on_delete=models.PROTECT, null=True, blank=True, related_name="legal_holds"
    )
    exhibit = models.ForeignKey(
        "evidence.Exhibit", on_delete=models.PROTECT, null=True, blank=True, related_name="legal_holds"
    )
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="legal_holds"
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    reason = models.TextField()
    review_on = models.DateField(help_text="When the hold is next reviewed: is it still needed?")
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    set_at = models.DateTimeField(default=timezone.now)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    lifted_at = models.DateTimeField(null=True, blank=True)
    lift_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-set_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(tasking__isnull=False, exhibit__isnull=True, person__isnull=True)
                    | models.Q(tasking__isnull=True, exhibit__isnull=False, person__isnull=True)
                    | models.Q(tasking__isnull=True, exhibit__isnull=True, person__isnull=False)
                ),
                name="retention_legalhold_one_target",
            ),
            models.CheckConstraint(
                condition=models.Q(lifted_at__isnull=True, lifted_by__isnull=True, lift_reason="")
                | (models.Q(lifted_at__isnull=False, lifted_by__isnull=False) & ~models.Q(lift_reason="")),
                name="retention_legalhold_lift_whole",
            ),
        ]
        indexes = [
            models.Index(fields=["scheme", "lifted_at", "review_on"], name="retention_hold_standing"),
        ]

    def __str__(self) -> str:
        state = "standing" if self.lifted_at is None else f"lifted {when(self.lifted_at)}"
        return f"{self.get_kind_display()} hold on {self.target_label} ({state})"

    @property
    def standing(self) -> bool:
        return self.lifted_at is None

    @property
    def target(self):
        return self.tasking or self.exhibit or self.person

    @property
    def target_label(self) -> str:
        if self.tasking_id:
            return f"tasking {self.tasking.reference}"
        if self.exhibit_id:
            return f"exhibit {self.exhibit.reference}"
        return f"the records of {self.person.get_full_name() or self.person.email}"


class SchemeRetention(models.Model):
    """A scheme's own retention periods, where it keeps records longer than the platform does (empty = the
    platform's period, a setting). Never shorter: `clean` refuses it, and the rules take the longer anyway."""

    scheme_path = "scheme"

    scheme = models.OneToOneField(Scheme, on_delete=models.CASCADE, related_name="retention_settings")
    case_extra_months = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Months case material is kept beyond the CPIA minimum its outcome sets. Empty: the platform's.",
    )
    vetting_years = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Years vetting records are kept after a volunteer leaves. Empty: the platform's.",
    )
    training_years = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Years training records are kept after a volunteer leaves. Empty: the platform's.",
    )
    welfare_years = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Years welfare records are kept after a person leaves. Empty: the platform's."
    )

    class Meta:
        verbose_name = "scheme retention periods"
        verbose_name_plural = "scheme retention periods"

    def __str__(self) -> str:
        return f"Retention periods of {self.scheme}"

    def clean(self) -> None:
        from retention.periods import PERIOD_FIELDS, platform_periods

        problems = rules.lengthening_problems(platform_periods(), {name: getattr(self, name) for name in PERIOD_FIELDS})
        if problems:
            raise ValidationError(problems)


class DisposalProposal(models.Model):
    """One officer's proposal to dispose of an exhibit's content, awaiting a different officer's approval
    (retention/disposal.py). The rule and date are those `disposal_status` gave when it was proposed; approval
    asks it again. Never deleted (a trigger refuses it on PostgreSQL): a refused or withdrawn proposal stays."""

    scheme_path = "exhibit__tasking__scheme"

    class State(models.TextChoices):
        PROPOSED = "proposed", "Awaiting approval"
        APPROVED = "approved", "Approved: disposed of"
        REFUSED = "refused", "Refused"
        WITHDRAWN = "withdrawn", "Withdrawn"

    exhibit = models.ForeignKey("evidence.Exhibit", on_delete=models.PROTECT, related_name="disposal_proposals")
    reason = models.TextField()
    rule = models.CharField(max_length=60)
    earliest = models.DateField()
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    proposed_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PROPOSED)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-proposed_at", "-id"]
        permissions = [("approve_disposal", "Approve the disposal of an item another officer proposed")]
        constraints = [
            # At most one proposal awaiting approval for an exhibit at a time.
            models.UniqueConstraint(
                fields=["exhibit"], condition=models.Q(state="proposed"), name="retention_one_open_proposal"
            ),
        ]

    def __str__(self) -> str:
        return f"Disposal of {self.exhibit.reference} ({self.get_state_display().lower()})"


class Tombstone(models.Model):
    """What stays of a disposed exhibit: its reference, hash and size, what was disposed of, when, by whom
    (proposed and approved) and under which rule. Written once by retention.disposal.disposal_approve; on
    PostgreSQL a trigger refuses any UPDATE or DELETE."""

    scheme_path = "exhibit__tasking__scheme"

    exhibit = models.OneToOneField("evidence.Exhibit", on_delete=models.PROTECT, related_name="tombstone")
    proposal = models.OneToOneField(DisposalProposal, on_delete=models.PROTECT, related_name="tombstone")
    reference = models.CharField(max_length=20)
    tasking_reference = models.CharField(max_length=100)
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField()
    what = models.TextField(help_text="What was disposed of.")
    disposed_at = models.DateTimeField(default=timezone.now)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    rule = models.CharField(max_length=60)
    rule_reason = models.TextField()
    legal_source = models.TextField()
    earliest = models.DateField()

    class Meta:
        ordering = ["-disposed_at", "-id"]

    def __str__(self) -> str:
        return f"Tombstone of {self.reference} (disposed of {when(self.disposed_at)})"


class DisposalCertificate(models.Model):
    """The signed certificate of one disposal (retention/certificates.py): a PDF naming what was disposed of,
    when, by whom and under which rule, signed with the scheme's key. Issued once, after the content has gone;
    on PostgreSQL a trigger refuses any UPDATE or DELETE."""

    scheme_path = "tombstone__exhibit__tasking__scheme"

    tombstone = models.OneToOneField(Tombstone, on_delete=models.PROTECT, related_name="certificate")
    issued_at = models.DateTimeField(default=timezone.now)
    pdf_name = models.CharField(max_length=255)
    pdf_sha256 = models.CharField(max_length=64)
    page_count = models.PositiveIntegerField()
    signed_by = models.CharField(max_length=120, help_text="SHA-256 fingerprint of the certificate that signed it.")

    class Meta:
        ordering = ["-issued_at", "-id"]

    def __str__(self) -> str:
        return f"Disposal certificate {self.number}"

    @property
    def number(self) -> str:
        """The number the certificate is known by: DC-<year>-<tombstone>, six digits."""
        return f"DC-{self.tombstone.disposed_at:%Y}-{self.tombstone_id:06d}"
