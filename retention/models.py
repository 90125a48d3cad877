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

    # Exactly one of: the tombstone of an exhibit's content, or of one kind of a person's records.
    tombstone = models.OneToOneField(
        Tombstone, on_delete=models.PROTECT, null=True, blank=True, related_name="certificate"
    )
    person_tombstone = models.OneToOneField(
        "PersonTombstone", on_delete=models.PROTECT, null=True, blank=True, related_name="certificate"
    )
    issued_at = models.DateTimeField(default=timezone.now)
    pdf_name = models.CharField(max_length=255)
    pdf_sha256 = models.CharField(max_length=64)
    page_count = models.PositiveIntegerField()
    signed_by = models.CharField(max_length=120, help_text="SHA-256 fingerprint of the certificate that signed it.")

    class Meta:
        ordering = ["-issued_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(tombstone__isnull=False, person_tombstone__isnull=True)
                | models.Q(tombstone__isnull=True, person_tombstone__isnull=False),
                name="retention_disposalcertificate_one_target",
            ),
        ]

    def __str__(self) -> str:
        return f"Disposal certificate {self.number}"

    @property
    def number(self) -> str:
        """The number the certificate is known by: DC-<year>-<tombstone>, six digits (DCP- for a person's
        records, whose tombstones are numbered apart)."""
        if self.person_tombstone_id is not None:
            return f"DCP-{self.person_tombstone.disposed_at:%Y}-{self.person_tombstone_id:06d}"
        return f"DC-{self.tombstone.disposed_at:%Y}-{self.tombstone_id:06d}"


class PersonDisposalProposal(models.Model):
    """A proposal to dispose of one kind of a departed volunteer's records (vetting, training or welfare),
    awaiting approval by a different person who may (retention/policy.py). The rule and date are those
    `person_records_status` gave when it was proposed; approval asks it again. Never deleted, decided once (a
    trigger on PostgreSQL): a refused or withdrawn proposal stays."""

    scheme_path = "scheme"

    class Kind(models.TextChoices):
        VETTING = "vetting", "Vetting records"
        TRAINING = "training", "Training records"
        WELFARE = "welfare", "Welfare records"

    State = DisposalProposal.State

    scheme = models.ForeignKey(Scheme, on_delete=models.PROTECT, related_name="+")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    reason = models.TextField()
    rule = models.CharField(max_length=60)
    earliest = models.DateField()
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    proposed_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=10, choices=DisposalProposal.State.choices, default="proposed")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-proposed_at", "-id"]
        verbose_name = "disposal proposal for a person's records"
        verbose_name_plural = "disposal proposals for people's records"
        permissions = [
            ("approve_person_disposal", "Approve the disposal of a person's records another person proposed")
        ]
        constraints = [
            # At most one proposal awaiting approval for one kind of one person's records at a time.
            models.UniqueConstraint(
                fields=["person", "kind"],
                condition=models.Q(state="proposed"),
                name="retention_one_open_person_proposal",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"Disposal of the {self.get_kind_display().lower()} of {self.person.get_full_name() or self.person.email} "
            f"({self.get_state_display().lower()})"
        )


class PersonTombstone(models.Model):
    """What stays of one kind of a person's disposed records: whose they were (name and e-mail as they stood),
    which kind, how many rows of each model, what was removed, when, by whom (proposed and approved), under which
    rule and why. Written once by retention.person_disposal.person_disposal_approve; on PostgreSQL a trigger
    refuses any UPDATE or DELETE."""

    scheme_path = "scheme"

    scheme = models.ForeignKey(Scheme, on_delete=models.PROTECT, related_name="+")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    proposal = models.OneToOneField(PersonDisposalProposal, on_delete=models.PROTECT, related_name="tombstone")
    kind = models.CharField(max_length=10, choices=PersonDisposalProposal.Kind.choices)
    person_name = models.CharField(max_length=200)
    person_email = models.EmailField()
    counts = models.JSONField(help_text="How many rows of each kind of record were deleted.")
    files = models.JSONField(default=list, help_text="The stored files removed with them.")
    what = models.TextField(help_text="What was disposed of, and what was kept.")
    disposed_at = models.DateTimeField(default=timezone.now)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    rule = models.CharField(max_length=60)
    rule_reason = models.TextField()
    legal_source = models.TextField()
    earliest = models.DateField()
    left_on = models.DateField(help_text="The day the person left the scheme, which the period counts from.")

    class Meta:
        ordering = ["-disposed_at", "-id"]
        verbose_name = "tombstone of a person's records"
        verbose_name_plural = "tombstones of people's records"
        constraints = [
            models.UniqueConstraint(fields=["person", "kind"], name="retention_person_kind_disposed_once"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.person_name} (disposed of {when(self.disposed_at)})"
