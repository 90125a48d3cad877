"""Forms of the volunteer's tasking page: what is captured alongside each exhibit."""

from __future__ import annotations

from django import forms

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
