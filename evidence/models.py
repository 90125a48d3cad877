"""Evidence: authorisations, taskings and assignments, exhibits and their custody chain."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models.functions import Upper
from django.utils import timezone

# guardian's direct-foreign-key permission bases: the one import of guardian outside
# portal/permissions.py, because the models must subclass them.
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from evidence.urn import HINT as URN_HINT
from evidence.urn import normalise_urn, validate_urn
from portal.display import when  # names with a time read in UK time, as everywhere in the admin
from portal.fields import EncryptedTextField
from portal.models import Scheme


class Authorisation(models.Model):
    """The legal authority for covert activity (RIPA CHIS, directed surveillance, or another basis)."""

    scheme_path = "scheme"

    class Kind(models.TextChoices):
        CHIS = "chis", "CHIS (RIPA s.29)"
        DIRECTED_SURVEILLANCE = "directed", "Directed surveillance (RIPA s.28)"
        OTHER = "other", "Other legal basis"

    scheme = models.ForeignKey(Scheme, on_delete=models.PROTECT, related_name="authorisations")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    reference = models.CharField(max_length=60)
    authorising_officer = models.CharField(max_length=200)
    authorising_rank = models.CharField(max_length=60)
    urgent = models.BooleanField(default=False, help_text="Urgent or oral authorisations last 72 hours.")
    granted_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    review_dates = models.JSONField(default=list, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    cancellation_reason = models.TextField(blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-granted_at"]
        constraints = [
            models.UniqueConstraint(fields=["scheme", "reference"], name="evidence_authorisation_ref_unique"),
            models.CheckConstraint(
                condition=models.Q(expires_at__gt=models.F("granted_at")),
                name="evidence_authorisation_expires_after_grant",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} ({self.get_kind_display()})"


class Tasking(models.Model):
    scheme_path = "scheme"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        # Set only by a deconfliction match (evidence/deconfliction/services.py), lifted only by its resolution.
        PAUSED = "paused", "Paused"
        CLOSED = "closed", "Closed"

    scheme = models.ForeignKey(Scheme, on_delete=models.PROTECT, related_name="taskings")
    reference = models.CharField(max_length=60, help_text="Operation reference, unique within the scheme.")
    title = models.CharField(max_length=200)
    objective = models.TextField()
    permitted_conduct = models.TextField(help_text="What the volunteer may and may not do (Looseley).")
    platforms = models.CharField(max_length=300, help_text="Platforms the volunteer works on.")
    persona = models.TextField(help_text="The decoy persona. Sensitive: assigned volunteers and officers only.")
    persona_handles = models.CharField(
        max_length=300,
        blank=True,
        help_text="The persona's account names, comma-separated: the conduct guard reads their side of chats.",
    )
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    authorisation = models.ForeignKey(Authorisation, on_delete=models.PROTECT, related_name="taskings")
    handler = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="handled_taskings")
    controller = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="controlled_taskings"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    urn = models.CharField(
        "URN",
        max_length=20,  # typed with spaces or slashes; kept compact (11 characters)
        blank=True,
        validators=[validate_urn],
        help_text="The case's Unique Reference Number. " + URN_HINT + " Every page of a bundle shows it.",
    )
    officer_in_case = models.CharField(
        "Officer in the case", max_length=200, blank=True, help_text="Name, rank and number, as on the MG forms."
    )
    court = models.CharField(max_length=200, blank=True, help_text="The court that will hear the case, when known.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-window_start"]
        permissions = [("submit_evidence", "Submit evidence to this tasking (granted on assignment)")]
        constraints = [
            models.UniqueConstraint(fields=["scheme", "reference"], name="evidence_tasking_ref_unique"),
            models.CheckConstraint(
                condition=models.Q(window_end__gt=models.F("window_start")), name="evidence_tasking_window_order"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference}: {self.title}"

    def save(self, *args, **kwargs):
        self.urn = normalise_urn(self.urn)
        super().save(*args, **kwargs)


class TaskingIdentifier(models.Model):
    """An online identity a tasking targets or meets, in canonical form (evidence/deconfliction/identifiers.py).

    The value is stored encrypted and shown only to the tasking's own officers; matching runs on the blind
    index (evidence/deconfliction/blind.py), so it never needs another scheme's plaintext."""

    scheme_path = "tasking__scheme"

    class Source(models.TextChoices):
        OFFICER = "officer", "Recorded by an officer"
        EXHIBIT = "exhibit", "An exhibit's other party"
        TRANSCRIPT = "transcript", "A sender in a transcript"

    tasking = models.ForeignKey(Tasking, on_delete=models.PROTECT, related_name="identifiers")
    kind = models.CharField(max_length=10)
    platform = models.CharField(max_length=100, blank=True)
    value = EncryptedTextField()
    key_id = models.CharField(max_length=16)
    blind_index = models.CharField(max_length=64)
    source = models.CharField(max_length=10, choices=Source.choices)
    exhibit = models.ForeignKey("Exhibit", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tasking", "key_id", "blind_index"], name="evidence_taskingidentifier_once"
            ),
        ]
        indexes = [models.Index(fields=["blind_index", "key_id"], name="evidence_identifier_blind")]

    def __str__(self) -> str:
        from evidence.deconfliction.identifiers import Identifier, Kind

        return str(Identifier(Kind(self.kind), self.value, self.platform))


class RegisterEntry(models.Model):
    """An identity of live police interest on a force's register, kept by its deconfliction officers.

    Entered one by one (the canonical value is then kept encrypted and shown to the force's own officers
    only) or imported as a blind index the force computed on its own machine with the shared key
    (`manage.py deconfliction_blind_indexes`), in which case the portal never holds the plaintext. Matched
    like a tasking's identities, on (key_id, blind_index), while live: not withdrawn and not expired."""

    scheme_path = None  # a force's, not a scheme's: scoped by force in evidence.deconfliction.register

    class Source(models.TextChoices):
        ENTERED = "entered", "Entered on the portal"
        IMPORTED = "imported", "Imported blind index"

    force = models.ForeignKey("portal.Force", on_delete=models.PROTECT, related_name="register_entries")
    reference = models.CharField(
        max_length=100, help_text="The force's own reference for this interest. Never shown outside the force."
    )
    kind = models.CharField(max_length=10, blank=True)
    platform = models.CharField(max_length=100, blank=True)
    value = EncryptedTextField(blank=True)
    key_id = models.CharField(max_length=16)
    blind_index = models.CharField(max_length=64)
    source = models.CharField(max_length=10, choices=Source.choices)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Whom a scheme's controller contacts when this entry is matched.",
    )
    expires_on = models.DateField(help_text="The entry stops matching after this day.")
    review_on = models.DateField(help_text="When the force reviews whether the interest is still live.")
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    added_at = models.DateTimeField(default=timezone.now)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-added_at", "-id"]
        indexes = [
            models.Index(fields=["blind_index", "key_id"], name="evidence_register_blind"),
            models.Index(fields=["force", "withdrawn_at", "expires_on"], name="evidence_register_force"),
        ]
        verbose_name = "register entry"
        verbose_name_plural = "register entries"

    def __str__(self) -> str:
        return f"{self.reference} ({self.pk})"

    @property
    def identity(self) -> str:
        """What the force's own officers read: the identity, or that only its blind index is held."""
        if not self.value:
            return "Blind index only (computed by the force)"
        from evidence.deconfliction.identifiers import Identifier, Kind

        return str(Identifier(Kind(self.kind), self.value, self.platform))


class PartnerInstallation(models.Model):
    """Another installation of the portal (another force's) whose signed blind-index sets this one imports.
    Its certificate is pinned: a set is imported only if that certificate signed it. Obtain the certificate
    from the partner through a trusted channel and confirm its fingerprint with them (docs/deployment.md)."""

    scheme_path = None  # platform-wide: managed by the platform's superusers

    name = models.CharField(max_length=200, unique=True, help_text="The partner force or installation.")
    certificate = models.TextField(help_text="The partner's signing certificate (PEM), obtained by a trusted channel.")
    fingerprint = models.CharField(max_length=95, editable=False)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", editable=False)
    added_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PartnerSet(models.Model):
    """One signed set imported from a partner. Only the partner's newest set is matched against: a set
    replaces the one before it, and an older or repeated set is refused."""

    scheme_path = None

    partner = models.ForeignKey(PartnerInstallation, on_delete=models.PROTECT, related_name="sets")
    issuer = models.CharField(max_length=200)
    contact_name = models.CharField(max_length=200)
    contact_email = models.EmailField(max_length=254)
    issued_at = models.DateTimeField()
    signer_fingerprint = models.CharField(max_length=95)
    entry_count = models.PositiveIntegerField()
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    imported_at = models.DateTimeField(default=timezone.now)
    replaced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-imported_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["partner", "issued_at"], name="evidence_partnerset_once")]

    def __str__(self) -> str:
        return f"{self.partner} set of {self.issued_at:%Y-%m-%d %H:%M}"


class PartnerEntry(models.Model):
    """A blind index in a partner's set: which identity it stands for, nobody here can tell."""

    scheme_path = None

    set = models.ForeignKey(PartnerSet, on_delete=models.CASCADE, related_name="entries")
    key_id = models.CharField(max_length=16)
    blind_index = models.CharField(max_length=64)
    expires_on = models.DateField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["blind_index", "key_id"], name="evidence_partner_blind")]
        verbose_name_plural = "partner entries"

    def __str__(self) -> str:
        return f"{self.key_id}:{self.blind_index[:12]}…"


class DeconflictionMatch(models.Model):
    """One side of a match: a tasking of this scheme engages an identifier that another party's live work
    also engages. The tasking is paused until its controller records the resolution. Both sides of one
    match carry the same reference, which is all either side is told besides whom to contact."""

    scheme_path = "tasking__scheme"

    class Outcome(models.TextChoices):
        PROCEED = "proceed", "Proceed, with the other owner's agreement"
        HAND_OVER = "hand_over", "Hand over to the other owner"
        WITHDRAW = "withdraw", "Withdraw"

    reference = models.CharField(max_length=20)
    tasking = models.ForeignKey(Tasking, on_delete=models.PROTECT, related_name="deconfliction_matches")
    identifier = models.ForeignKey(TaskingIdentifier, on_delete=models.PROTECT, related_name="+")
    other_tasking = models.ForeignKey(Tasking, on_delete=models.PROTECT, null=True, related_name="+")
    # Or, instead of another tasking, an entry on a force's register; its owner is the contact, and records
    # the force's side (what was agreed) on the deconfliction pages.
    register_entry = models.ForeignKey(
        RegisterEntry, on_delete=models.PROTECT, null=True, blank=True, related_name="matches"
    )
    # Or an entry of a set imported from a partner installation, whose contact is nobody here: named by value.
    partner = models.ForeignKey(PartnerInstallation, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    partner_entry = models.ForeignKey(PartnerEntry, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    contact = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    contact_name = models.CharField(max_length=200, blank=True)
    contact_email = models.EmailField(max_length=254, blank=True)
    found_at = models.DateTimeField(default=timezone.now)
    status_before = models.CharField(max_length=10)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, blank=True)
    reasons = models.TextField(blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    agreement = models.TextField(blank=True, help_text="The force's side: what its deconfliction officer agreed.")
    agreed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    agreed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-found_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["reference", "tasking"], name="evidence_match_side_once"),
        ]
        verbose_name = "deconfliction match"
        verbose_name_plural = "deconfliction matches"

    def __str__(self) -> str:
        return self.reference

    @property
    def open(self) -> bool:
        return self.resolved_at is None

    @property
    def whom_to_contact(self) -> str:
        """The other owner: a person here, or a partner installation's contact, named by value."""
        if self.contact is not None:
            return f"{self.contact.get_full_name()} ({self.contact.email})"
        return f"{self.contact_name} ({self.contact_email})"


class TaskingUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Tasking, on_delete=models.CASCADE)


class TaskingGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Tasking, on_delete=models.CASCADE)


class Assignment(models.Model):
    """The fact that a volunteer is assigned; the permission it grants lives in guardian."""

    scheme_path = "tasking__scheme"

    tasking = models.ForeignKey(Tasking, on_delete=models.PROTECT, related_name="assignments")
    volunteer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="assignments")
    assigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    assigned_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-assigned_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tasking", "volunteer"],
                condition=models.Q(ended_at__isnull=True),
                name="evidence_one_open_assignment",
            )
        ]

    def __str__(self) -> str:
        return f"{self.volunteer} on {self.tasking.reference}"


class ExhibitCounter(models.Model):
    """Next sequence number per producer per tasking: locked while a reference is allocated."""

    scheme_path = "tasking__scheme"

    tasking = models.ForeignKey(Tasking, on_delete=models.PROTECT, related_name="+")
    initials = models.CharField(max_length=8)
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tasking", "initials"], name="evidence_counter_unique")]

    def __str__(self) -> str:
        return f"{self.initials}/{self.last} on {self.tasking_id}"


class Exhibit(models.Model):
    scheme_path = "tasking__scheme"

    class Review(models.TextChoices):
        AWAITING = "awaiting", "Awaiting review"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"
        UNUSED = "unused", "Marked unused"

    tasking = models.ForeignKey(Tasking, on_delete=models.PROTECT, related_name="exhibits")
    producer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="exhibits")
    reference = models.CharField(max_length=20)
    sequence = models.PositiveIntegerField()
    description = models.TextField()
    platform = models.CharField(max_length=100)
    other_party = models.CharField(max_length=300, help_text="The other party's account identifiers.")
    url = models.CharField(max_length=2000, blank=True)
    captured_at = models.DateTimeField()
    capture_method = models.CharField(max_length=200)
    original_name = models.CharField(max_length=255, help_text="As sent by the browser; never used to store.")
    stored_name = models.CharField(max_length=255)
    size = models.BigIntegerField()
    sniffed_type = models.CharField(max_length=100)
    sha256 = models.CharField(max_length=64)
    browser_sha256 = models.CharField(max_length=64, blank=True)
    quarantined = models.BooleanField(default=False, help_text="Possible indecent imagery of a child.")
    distressing = models.BooleanField(
        default=False, help_text="Distressing material: opening it counts towards the opener's welfare exposure."
    )
    review_state = models.CharField(max_length=10, choices=Review.choices, default=Review.AWAITING)
    submitted_at = models.DateTimeField(default=timezone.now)

    conduct_flags = models.JSONField(
        default=list, blank=True, help_text="Decoy-side lines that may instigate, for the reviewing officer."
    )
    review_reason = models.TextField(blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    # Set once, when the retention app's two-person disposal removes the content (its tombstone says what
    # and why); the row, its hash and its custody chain stay. Never cleared (a trigger refuses it).
    disposed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["tasking", "producer", "sequence"]
        permissions = [
            ("open_quarantined", "Open quarantined material (possible indecent images of children)"),
            ("review_exhibit", "Review exhibits: accept, reject, mark unused, set sensitivity"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["tasking", "reference"], name="evidence_exhibit_ref_unique"),
        ]
        indexes = [
            # The admin's exhibit list, newest first; and the officer's "awaiting review" list and count,
            # which read only the few awaiting exhibits among a force's hundred thousand (bench/volume.py).
            models.Index(fields=["-submitted_at", "-id"], name="evidence_exhibit_newest"),
            models.Index(
                fields=["submitted_at", "id"],
                condition=models.Q(review_state="awaiting"),
                name="evidence_exhibit_awaiting",
            ),
            models.Index(
                fields=["tasking"], condition=models.Q(review_state="awaiting"), name="evidence_exhibit_awaiting_t"
            ),
            # The admin's search by an exhibit's reference, whatever its case. (The other party is searched
            # through a trigram index that migration 0020 makes on PostgreSQL.)
            models.Index(Upper("reference"), name="evidence_exhibit_ref_upper"),
        ]

    def __str__(self) -> str:
        return self.reference


class CustodyEvent(models.Model):
    """One handling step of one exhibit; each row chains to the previous one of the same exhibit."""

    scheme_path = "exhibit__tasking__scheme"

    class Action(models.TextChoices):
        UPLOADED = "uploaded", "Uploaded"
        HASH_VERIFIED = "hash_verified", "Hash verified"
        VIEWED = "viewed", "Viewed"
        DOWNLOADED = "downloaded", "Downloaded"
        REVIEWED = "reviewed", "Reviewed"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"
        MARKED_UNUSED = "marked_unused", "Marked unused"
        SENSITIVITY_CHANGED = "sensitivity_changed", "Sensitivity changed"
        INCLUDED_IN_BUNDLE = "included_in_bundle", "Included in bundle"
        DISCLOSED = "disclosed", "Disclosed"
        DISPOSED = "disposed", "Disposed of"

    exhibit = models.ForeignKey(Exhibit, on_delete=models.PROTECT, related_name="custody")
    at = models.DateTimeField(default=timezone.now)
    action = models.CharField(max_length=20, choices=Action.choices)
    actor_id = models.BigIntegerField(null=True)
    actor_email = models.CharField(max_length=254)
    actor_role = models.CharField(max_length=200)
    detail = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["exhibit", "id"]

    def __str__(self) -> str:
        return f"{self.exhibit.reference}: {self.get_action_display()}"


class UnusedMaterial(models.Model):
    """CPIA unused material: an item captured but not relied on, scheduled on MG6C or MG6D."""

    scheme_path = "tasking__scheme"

    class Schedule(models.TextChoices):
        MG6C = "MG6C", "MG6C (non-sensitive)"
        MG6D = "MG6D", "MG6D (sensitive)"

    tasking = models.ForeignKey(Tasking, on_delete=models.PROTECT, related_name="unused_material")
    exhibit = models.OneToOneField(Exhibit, on_delete=models.PROTECT, null=True, blank=True, related_name="unused")
    schedule = models.CharField(max_length=4, choices=Schedule.choices)
    description = models.TextField()
    reason = models.TextField(blank=True, help_text="Required on MG6D: why the material is sensitive.")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["schedule", "at"]
        verbose_name_plural = "unused material"

    def __str__(self) -> str:
        return f"{self.schedule}: {self.description[:60]}"


class ScheduleSignature(models.Model):
    """The disclosure officer's certificate that a schedule of unused material (MG6C or MG6D) is complete
    and correct, given by an explicit act after re-authentication. It covers the items listed when it was
    given (`items`, with `digest` over them): a schedule changed afterwards needs signing again."""

    scheme_path = "tasking__scheme"

    tasking = models.ForeignKey(Tasking, on_delete=models.PROTECT, related_name="schedule_signatures")
    schedule = models.CharField(max_length=4, choices=UnusedMaterial.Schedule.choices)
    items = models.JSONField(default=list)
    digest = models.CharField(max_length=64)
    signed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signed_by_name = models.CharField(max_length=200)
    signed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["tasking", "schedule", "-signed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.schedule} of {self.tasking.reference} signed by {self.signed_by_name}, {when(self.signed_at)}"


class SafeguardingAlert(models.Model):
    """ "A real child may be at risk": raised by a volunteer, acknowledged by an officer, timed."""

    scheme_path = "tasking__scheme"

    tasking = models.ForeignKey(Tasking, on_delete=models.PROTECT, related_name="safeguarding_alerts")
    raised_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    raised_at = models.DateTimeField(default=timezone.now)
    note = models.TextField(blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-raised_at"]

    def __str__(self) -> str:
        return f"Safeguarding alert on {self.tasking.reference}, {when(self.raised_at)}"

    @property
    def time_to_acknowledge(self):
        return self.acknowledged_at - self.raised_at if self.acknowledged_at else None


class ContemporaneousNote(models.Model):
    """A note written during the tasking: timestamped by the server, never edited or deleted."""

    scheme_path = "tasking__scheme"

    tasking = models.ForeignKey(Tasking, on_delete=models.PROTECT, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    written_at = models.DateTimeField(default=timezone.now)
    text = models.TextField()

    class Meta:
        ordering = ["written_at", "id"]

    def __str__(self) -> str:
        return f"Note by {self.author}, {when(self.written_at)}"


class Statement(models.Model):
    """A witness statement (MG11). Drafts may change (each differing draft is kept); once signed, the
    rendered PDF and its hash are fixed and the statement is never edited: a correction is a new one.
    A draft the witness gives up is discarded, not deleted: kept with its drafts, never signed or edited."""

    scheme_path = "tasking__scheme"

    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        SIGNED = "signed", "Signed"
        DISCARDED = "discarded", "Discarded"

    tasking = models.ForeignKey(Tasking, on_delete=models.PROTECT, related_name="statements")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="statements")
    state = models.CharField(max_length=10, choices=State.choices, default=State.DRAFT)
    body = models.TextField()
    exhibits = models.ManyToManyField(Exhibit, blank=True, related_name="statements")
    corrects = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="corrections")
    created_at = models.DateTimeField(default=timezone.now)
    signed_at = models.DateTimeField(null=True, blank=True)
    discarded_at = models.DateTimeField(null=True, blank=True)
    page_count = models.PositiveSmallIntegerField(null=True, blank=True)
    pdf_name = models.CharField(max_length=255, blank=True)
    pdf_sha256 = models.CharField(max_length=64, blank=True)
    # The name printed on the MG11 as signed: the witness's own, or their scheme pseudonym if the officer
    # had marked them identity-protected by then.
    signed_as = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Statement of {self.author} on {self.tasking.reference} ({self.get_state_display().lower()})"


class StatementDraft(models.Model):
    """Every differing version of a statement's text before signing (CPIA: drafts are kept)."""

    scheme_path = "statement__tasking__scheme"

    statement = models.ForeignKey(Statement, on_delete=models.PROTECT, related_name="drafts")
    body = models.TextField()
    saved_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["saved_at", "id"]

    def __str__(self) -> str:
        return f"Draft of statement {self.statement_id}, {when(self.saved_at)}"


class HandoverBundle(models.Model):
    """A signed PDF package of one tasking's evidence for police, CPS and court (version n per tasking)."""

    scheme_path = "tasking__scheme"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        BUILDING = "building", "Building"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    tasking = models.ForeignKey(Tasking, on_delete=models.PROTECT, related_name="bundles")
    version = models.PositiveIntegerField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    pdf_name = models.CharField(max_length=255, blank=True)
    pdf_sha256 = models.CharField(max_length=64, blank=True)
    page_count = models.PositiveIntegerField(null=True, blank=True)  # of the signed PDF, once ready
    manifest = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    # Fixed when the build starts, so every worker renders the same chunks and a re-run the same bundle.
    plan = models.JSONField(default=dict, blank=True)
    # Set only when some natives are too large to embed: a ZIP of the signed PDF and natives/.
    package_name = models.CharField(max_length=255, blank=True)
    package_sha256 = models.CharField(max_length=64, blank=True)
    # The sensitive part, for the CPS only: authorisation, persona and permitted conduct, the true identity
    # of identity-protected witnesses, and the MG6D. Signed separately; its manifest names the served PDF.
    sensitive_pdf_name = models.CharField(max_length=255, blank=True)
    sensitive_pdf_sha256 = models.CharField(max_length=64, blank=True)
    sensitive_page_count = models.PositiveIntegerField(null=True, blank=True)
    # Set once, when an exhibit the bundle held was disposed of (evidence.bundles.withdraw): every stored file
    # holding its content was removed, every version. The record (version, manifest, hashes, pages, who asked
    # for it) stays. `files_withdrawn` lists the files removed as {"part": "pdf" | "package" | "work", "name"}.
    files_withdrawn_at = models.DateTimeField(null=True, blank=True, editable=False)
    files_withdrawn_for = models.ForeignKey(
        Exhibit, on_delete=models.PROTECT, null=True, blank=True, editable=False, related_name="+"
    )
    files_withdrawn = models.JSONField(default=list, blank=True, editable=False)

    class Meta:
        ordering = ["tasking", "-version"]
        permissions = [("download_bundle", "Download this bundle (granted when shared with a court recipient)")]
        constraints = [models.UniqueConstraint(fields=["tasking", "version"], name="evidence_bundle_version_unique")]

    def __str__(self) -> str:
        return f"Bundle v{self.version} of {self.tasking.reference}"


class HandoverBundleUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(HandoverBundle, on_delete=models.CASCADE)


class HandoverBundleGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(HandoverBundle, on_delete=models.CASCADE)


class BundleShare(models.Model):
    """A bundle shared with a court / CPS recipient until a date; the grant is a guardian permission,
    the date and revocation are checked by the policy at every request."""

    scheme_path = "bundle__tasking__scheme"

    class Parts(models.TextChoices):
        SERVED = "served", "Court or defence: the served bundle only"
        BOTH = "both", "CPS prosecutor: the served bundle and the sensitive part"

    bundle = models.ForeignKey(HandoverBundle, on_delete=models.PROTECT, related_name="shares")
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bundle_shares")
    parts = models.CharField(
        max_length=6,
        choices=Parts.choices,
        default=Parts.SERVED,
        db_default=Parts.SERVED,
        help_text="The sensitive part (authorisation, persona and conduct, protected identities, MG6D) goes to the "
        "CPS only, never to a court or the defence.",
    )
    until = models.DateTimeField()
    shared_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    shared_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-shared_at"]

    def __str__(self) -> str:
        return f"{self.bundle} shared with {self.recipient}"


class BundleAccess(models.Model):
    """Every download of a bundle, by anyone."""

    scheme_path = "bundle__tasking__scheme"

    bundle = models.ForeignKey(HandoverBundle, on_delete=models.PROTECT, related_name="accesses")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    ip = models.CharField(max_length=45, blank=True)
    part = models.CharField(max_length=9, default="served", db_default="served")  # "served" or "sensitive"

    class Meta:
        ordering = ["-at"]
        verbose_name_plural = "bundle accesses"

    def __str__(self) -> str:
        return f"{self.user} downloaded {self.bundle}, {when(self.at)}"


class ResumableUpload(models.Model):
    """An exhibit upload in progress over the resumable protocol (evidence.resumable): not evidence yet.
    The bytes are in a partial file; `offset` is how many of them are durable. Removed when the upload is
    refused, cancelled or expires. Once complete, the row stays (without its file) until it expires, naming
    the exhibit it became: a client that lost the answer to its last request asks again and is told the
    same exhibit, instead of uploading the file a second time."""

    scheme_path = "tasking__scheme"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    tasking = models.ForeignKey(Tasking, on_delete=models.CASCADE, related_name="+")
    length = models.BigIntegerField()
    offset = models.BigIntegerField(default=0)
    details = models.JSONField(default=dict)  # the exhibit form's fields as she sent them
    name = models.CharField(max_length=255, blank=True)  # her file's name, for display only
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)
    exhibit = models.ForeignKey(Exhibit, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    # The partial file's own data key, wrapped by the key-encryption key with this id (portal.spoolcrypt):
    # the file on disk is ciphertext. Empty on an upload started before partial files were encrypted,
    # whose partial file is plaintext (evidence.resumable reads both).
    spool_kek_id = models.BinaryField(max_length=8, null=True, blank=True, editable=False)
    spool_key = models.BinaryField(max_length=40, null=True, blank=True, editable=False)

    def __str__(self) -> str:
        return f"Upload of {self.name or 'a file'}: {self.offset} of {self.length} bytes"
