"""Forms of the volunteer and welfare pages; they validate input, services apply the rules."""

from __future__ import annotations

from django import forms
from django.contrib.auth.password_validation import validate_password
from django.utils import timezone

from portal.forms import GovukDateField
from volunteers.models import ScreeningRecord


class InvitationAcceptForm(forms.Form):
    full_name = forms.CharField(
        label="Full name",
        max_length=200,
        help_text="As shown on your identity documents.",
        error_messages={"required": "Enter your full name"},
    )
    date_of_birth = GovukDateField(
        label="Date of birth",
        help_text="For example, 27 3 1990.",
        error_messages={"required": "Enter your date of birth", "invalid": "Date of birth must be a real date"},
    )
    phone = forms.CharField(label="Phone number", max_length=40, error_messages={"required": "Enter a phone number"})
    current_address = forms.CharField(
        label="Current address",
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Enter your current address"},
    )
    current_address_since = GovukDateField(
        label="Lived there since",
        help_text="The date you moved in. For example, 1 2 2019.",
        error_messages={
            "required": "Enter the date you moved to your current address",
            "incomplete": "The date you moved in must include a %(missing)s",
            "invalid_year": "The year you moved in must include 4 numbers",
            "invalid": "The date you moved in must be a real date",
        },
    )
    previous_addresses = forms.CharField(
        label="Previous addresses in the last 5 years (optional)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One address per line, with the dates you lived there. Vetting needs five years of history.",
    )
    password1 = forms.CharField(
        label="Create a password",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 12 characters. A few unrelated words make a strong password.",
        error_messages={"required": "Create a password"},
    )
    password2 = forms.CharField(
        label="Confirm your password",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        error_messages={"required": "Enter your password again to confirm it"},
    )
    accept_conduct = forms.BooleanField(
        label="I have read the code of conduct and agree to follow it",
        required=True,
        error_messages={"required": "You must accept the code of conduct to apply."},
    )

    def __init__(self, *args, email: str = "", conduct_published: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.email = email
        if not conduct_published:
            del self.fields["accept_conduct"]

    def clean_date_of_birth(self):
        born = self.cleaned_data["date_of_birth"]
        today = timezone.localdate()
        age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
        if age < 18:
            raise forms.ValidationError("Volunteers must be 18 or over.")
        if age > 110:
            raise forms.ValidationError("Check the year of your date of birth.")
        return born

    def clean_current_address_since(self):
        since = self.cleaned_data["current_address_since"]
        if since > timezone.localdate():
            raise forms.ValidationError("The date you moved in cannot be in the future.")
        return since

    def clean(self):
        cleaned = super().clean()
        first, second = cleaned.get("password1"), cleaned.get("password2")
        if first and second and first != second:
            self.add_error("password2", "The passwords do not match.")
        elif first:
            from portal.models import User

            try:
                validate_password(first, User(email=self.email, full_name=cleaned.get("full_name", "")))
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return cleaned

    def address_history(self) -> list[dict]:
        data = self.cleaned_data
        history = [{"address": data["current_address"].strip(), "from": data["current_address_since"].isoformat()}]
        for line in (data.get("previous_addresses") or "").splitlines():
            if line.strip():
                history.append({"address": line.strip()})
        return history


class ScreeningForm(forms.Form):
    kind = forms.ChoiceField(
        label="Kind of screening",
        choices=ScreeningRecord.Kind.choices,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Select the kind of screening",
            "invalid_choice": "Select one of the kinds of screening listed",
        },
    )
    screened_on = GovukDateField(
        label="Date of screening",
        help_text="For example, 14 3 2025.",
        error_messages={
            "required": "Enter the date of the screening",
            "invalid": "Date of screening must be a real date",
        },
    )
    provider = forms.CharField(
        label="Provider",
        max_length=200,
        help_text="Occupational health provider or clinician.",
        error_messages={"required": "Enter who carried out the screening"},
    )
    outcome = forms.ChoiceField(
        label="Outcome",
        choices=ScreeningRecord.Outcome.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Select the outcome", "invalid_choice": "Select one of the outcomes listed"},
    )
    restrictions = forms.CharField(
        label="Restrictions (if fit with restrictions)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Officers see these restrictions so they can task safely; write them without clinical detail.",
    )
    clinical_notes = forms.CharField(
        label="Clinical notes",
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Only welfare officers of this scheme can read these notes. They are encrypted when stored.",
    )


class ExposureForm(forms.Form):
    minutes = forms.IntegerField(
        label="Minutes of exposure",
        min_value=1,
        max_value=24 * 60,
        error_messages={
            "required": "Enter the minutes of exposure",
            "invalid": "Minutes must be a whole number, like 45",
            "min_value": "Minutes must be at least 1",
            "max_value": "Minutes must be no more than 1,440 (one day): record longer exposure day by day",
        },
    )
    source = forms.CharField(
        label="What kind of material",
        max_length=200,
        error_messages={"required": "Describe the kind of material"},
        help_text="Describe the kind of material (for example, chat logs with sexual content), never the material.",
    )


class StandDownForm(forms.Form):
    detail = forms.CharField(
        label="Reason (welfare officers only)", widget=forms.Textarea(attrs={"rows": 3}), required=False
    )


class LiftStandDownForm(forms.Form):
    reason = forms.CharField(
        label="Why is it safe to lift the stand-down?",
        help_text="For example, the outcome of a screening or a conversation with them. Only welfare officers "
        "can read this.",
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Enter why it is safe to lift the stand-down"},
    )
    confirm = forms.BooleanField(
        label="I confirm they can be deployed again, unless something else stops it",
        error_messages={"required": "Confirm that they can be deployed again"},
    )
