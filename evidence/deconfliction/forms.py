"""The deconfliction officer's forms: an entry typed in, a blind-index file imported, a match's agreement."""

from __future__ import annotations

from django import forms

from evidence.deconfliction.identifiers import NotAnIdentifier, identify
from portal.forms import GovukDateField, StorableTextForm

MAX_IMPORT_BYTES = 20 * 1024 * 1024  # 200,000 rows of `key_id,blind_index` are about 16 MB


class OwnerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.get_full_name()} ({obj.email})"


class _Terms(StorableTextForm):
    reference = forms.CharField(
        label="Your force's reference",
        max_length=100,
        help_text="For example, the operation or intelligence reference. Only your force's deconfliction officers "
        "read it; a scheme's controller is told only whom to contact.",
        error_messages={"required": "Enter your force's reference for this interest"},
    )
    owner = OwnerChoiceField(
        label="Owner",
        queryset=None,
        empty_label=None,
        help_text="The deconfliction officer a scheme's controller contacts when the entry is matched.",
        error_messages={"required": "Choose who owns the entry", "invalid_choice": "Choose one of the officers listed"},
    )
    review_on = GovukDateField(
        label="Review date",
        help_text="When your force checks the interest is still live. For example, 14 3 2027.",
        error_messages={"required": "Enter the review date"},
    )
    expires_on = GovukDateField(
        label="Expiry date",
        help_text="The entry stops matching after this day.",
        error_messages={"required": "Enter the expiry date"},
    )

    def __init__(self, *args, owners, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = owners


class RegisterEntryForm(_Terms):
    identity = forms.CharField(
        label="Identity",
        max_length=500,
        help_text="A phone number, an e-mail address, a profile's web address, or an account name. It is kept "
        "encrypted and matched without revealing it.",
        error_messages={"required": "Enter the identity to register"},
    )
    platform = forms.CharField(
        label="Platform",
        max_length=100,
        required=False,
        help_text="For an account name: where the account is, for example Instagram or Snapchat.",
    )
    field_order = ["identity", "platform", "reference", "owner", "review_on", "expires_on"]

    def clean(self) -> dict:
        cleaned = super().clean()
        if "identity" in cleaned:
            try:
                cleaned["identifier"] = identify(cleaned["identity"], cleaned.get("platform", ""))
            except NotAnIdentifier as exc:
                self.add_error("identity", str(exc))
        return cleaned


class RegisterImportForm(_Terms):
    file = forms.FileField(
        label="Blind-index file",
        help_text="The CSV file `manage.py deconfliction_blind_indexes` wrote on your force's own machine: a line "
        "`key_id,blind_index`, then one blind index per line. Never upload a file of names, numbers or handles.",
        error_messages={"required": "Choose the blind-index file to import", "empty": "The chosen file is empty"},
    )
    field_order = ["file", "reference", "owner", "review_on", "expires_on"]

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_IMPORT_BYTES:
            raise forms.ValidationError(
                f"The file is {upload.size / 1048576:.1f} MB; the largest that can be imported at once is "
                f"{MAX_IMPORT_BYTES // 1048576} MB. Split it into several files."
            )
        return upload


class AgreementForm(StorableTextForm):
    agreement = forms.CharField(
        label="What your force agreed",
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=4000,
        help_text="With whom you spoke and when, and what your force agreed: the scheme proceeds, hands over to "
        "you, or withdraws, and on what terms. It is kept on the record.",
        error_messages={"required": "Record what your force agreed"},
    )
