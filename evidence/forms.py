"""Forms of the volunteer's tasking pages: an exhibit's details, a note, a statement."""

from __future__ import annotations

from django import forms
from django.core.validators import ProhibitNullCharactersValidator
from django.utils import timezone

from portal.forms import StorableTextForm


class ExhibitForm(StorableTextForm):
    description = forms.CharField(
        label="Description",
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What this is, for example: chat with the suspect on Platform X, 2 to 4 December, both sides.",
        error_messages={"required": "Describe the exhibit"},
    )
    platform = forms.CharField(label="Platform", max_length=100, error_messages={"required": "Enter the platform"})
    other_party = forms.CharField(
        label="The other party's account identifiers",
        max_length=300,
        help_text="User name, profile ID or number exactly as shown.",
        error_messages={"required": "Enter the other party's account identifiers"},
    )
    url = forms.CharField(label="Web address (optional)", max_length=2000, required=False)
    captured_at = forms.DateTimeField(
        label="Time of capture (UK time)",
        help_text="For example, 2026-12-02 14:05.",
        input_formats=["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%d/%m/%Y %H:%M"],
        error_messages={"required": "Enter the time of capture", "invalid": "Enter the time like 2026-12-02 14:05"},
    )
    capture_method = forms.CharField(
        label="Capture method",
        max_length=200,
        help_text="For example, the platform's own export, or a screen recording.",
        error_messages={"required": "Enter how it was captured"},
    )
    possible_indecent_image = forms.BooleanField(
        label="This may contain an indecent image of a child",
        required=False,
        help_text="It will be quarantined: you will not be able to view it again, and only authorised officers can.",
    )
    distressing = forms.BooleanField(
        label="This material is distressing",
        required=False,
        help_text="Anyone who opens it later has it counted towards their welfare exposure.",
    )
    browser_sha256 = forms.CharField(required=False, widget=forms.HiddenInput, max_length=64)

    def clean_captured_at(self):
        captured_at = self.cleaned_data["captured_at"]
        # The service refuses this too; said here, the message stands beside the field it is about.
        if captured_at and captured_at > timezone.now():
            raise forms.ValidationError("The time of capture cannot be in the future")
        return captured_at


class _EvidenceTextForm(forms.Form):
    """Text that becomes evidence is refused, not altered, when the database cannot store it; the service
    says so in its own words ("The note contains a character that cannot be stored…"), so Django's terser
    NUL check is left out here."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.validators = [v for v in field.validators if not isinstance(v, ProhibitNullCharactersValidator)]


class NoteForm(_EvidenceTextForm):
    text = forms.CharField(
        label="Note",
        strip=False,  # a note is kept exactly as written
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Write what you do and see, as you do it. The portal stamps each note with the time; a note "
        "cannot be changed once added.",
        error_messages={"required": "Enter the note"},
    )

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("auto_id", "note-%s")
        super().__init__(*args, **kwargs)

    def clean_text(self) -> str:
        text = self.cleaned_data["text"]
        if not text.strip():
            raise forms.ValidationError("Enter the note")
        return text


class StatementForm(_EvidenceTextForm):
    body = forms.CharField(
        label="Statement",
        strip=False,
        widget=forms.Textarea(attrs={"rows": 16}),
        help_text="In the first person, what you saw and did, in the order it happened. Name each exhibit you "
        "refer to by its reference, for example VD/1.",
        error_messages={"required": "Enter your statement"},
    )

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("auto_id", "%s")
        super().__init__(*args, **kwargs)

    def clean_body(self) -> str:
        body = self.cleaned_data["body"]
        if not body.strip():
            raise forms.ValidationError("Enter your statement")
        return body
