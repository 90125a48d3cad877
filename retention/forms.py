"""The officer's retention forms in the admin: a case's outcome, a legal hold placed, a legal hold lifted."""

from __future__ import annotations

from django import forms
from django.contrib.admin.widgets import AdminDateWidget

from portal.forms import StorableTextForm
from retention.models import CaseOutcome, LegalHold


def day_field(label: str, help_text: str = "", *, error_messages: dict | None = None, **kwargs) -> forms.DateField:
    invalid = f"Enter the {label[:1].lower() + label[1:]} as a real date, like 12/03/2027"
    return forms.DateField(
        label=label,
        help_text=help_text,
        widget=AdminDateWidget,  # the admin's own: typed as 12/03/2027, with Today and a calendar
        error_messages={"invalid": invalid, **(error_messages or {})},
        **kwargs,
    )


class OutcomeForm(StorableTextForm):
    outcome = forms.ChoiceField(
        label="What became of the case?",
        choices=CaseOutcome.Outcome.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose what became of the case"},
    )
    decided_on = day_field(
        "Date of the decision",
        "No further action, acquittal or discontinuance: the day it was decided. For a charge, the day of charge.",
        required=False,
    )
    convicted_on = day_field("Date of conviction", required=False)
    sentence = forms.CharField(
        label="Sentence", max_length=300, required=False, help_text="As the court passed it, for example 2 years."
    )
    custodial = forms.BooleanField(label="Custodial sentence or hospital order", required=False)
    release_on = day_field(
        "Release or discharge date",
        "When known. Until it is, the material is kept with no disposal date.",
        required=False,
    )
    appeal_pending = forms.BooleanField(
        label="An appeal, or a Criminal Cases Review Commission application, is in progress",
        required=False,
        help_text="Everything is kept until it is determined.",
    )
    appeal_determined_on = day_field("Date the appeal was determined", required=False)
    note = forms.CharField(
        label="Where this comes from",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Optional: the CPS letter, court result or PNC update that records it.",
    )


class HoldForm(StorableTextForm):
    kind = forms.ChoiceField(
        label="What is the hold for?",
        choices=LegalHold.Kind.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose what the hold is for"},
    )
    reason = forms.CharField(
        label="Reason",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The appeal, review or claim, with its reference: who asked for the records to be kept, and why.",
        error_messages={"required": "Enter the reason for the hold: the appeal, review or claim, and its reference"},
    )
    review_on = day_field(
        "Review date",
        "When the hold is next reviewed: is it still needed?",
        error_messages={"required": "Enter the date the hold is next reviewed"},
    )

    def clean(self) -> dict:
        """The service's own checks, shown beside each field with the form's (a reason and a date not past)."""
        from retention.services import hold_problems

        cleaned = super().clean()
        found = hold_problems(
            kind=cleaned.get("kind", ""), reason=cleaned.get("reason", ""), review_on=cleaned.get("review_on")
        )
        for name, message in found.items():
            if name not in self.errors:
                self.add_error(name, message)
        return cleaned


class LiftForm(StorableTextForm):
    reason = forms.CharField(
        label="Why can the hold be lifted?",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="For example: the appeal was dismissed on 3 May 2027. Kept on the record with your name.",
        error_messages={"required": "Enter why the hold can be lifted"},
    )


class ProposeDisposalForm(StorableTextForm):
    reason = forms.CharField(
        label="Why should this exhibit be disposed of now?",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="For example: no further action on 3 May 2027, no appeal, no claim, nothing held. Another officer "
        "approves it; your name is recorded.",
        error_messages={"required": "Enter why the exhibit should be disposed of now"},
    )


class DecideDisposalForm(StorableTextForm):
    note = forms.CharField(
        label="Note (needed to refuse)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Why you refuse the disposal, or anything to record with your approval.",
    )


class ProposePersonDisposalForm(StorableTextForm):
    """The reason for disposing of one kind of a departed volunteer's records, in the words of that kind."""

    reason = forms.CharField(
        label="Why should these records be disposed of now?",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="For example: left on 3 May 2025, six years have passed, no claim or review, nothing held. "
        "Someone else approves it; your name is recorded.",
    )

    def __init__(self, *args, kind_words: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].label = f"Why should the {kind_words} be disposed of now?"
        self.fields["reason"].error_messages["required"] = f"Enter why the {kind_words} should be disposed of now"
