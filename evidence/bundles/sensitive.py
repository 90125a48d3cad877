"""The bundle's sensitive part, for the CPS only: what the served bundle must not carry (the authorisation,
the persona and permitted conduct, the true identity of every identity-protected witness, and the MG6D).
It is a PDF of its own, signed with the same key as the served bundle, and its manifest names the served
PDF it accompanies by SHA-256, so the two cannot be mixed up between cases or versions."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone

from evidence.bundles.plan import bundle_file_stem, bundle_manifest, signing_pair
from evidence.bundles.render import generated_at, html, rendering, scheduled, signature_view
from evidence.disclosure import CERTIFICATE
from evidence.models import HandoverBundle
from evidence.pdf_join import Bookmark, StreamingPdfWriter
from evidence.pdf_stamp import load_font
from evidence.urn import display_urn
from evidence.verify import certificate_fingerprint
from portal.models import User


def sensitive_file_name(bundle: HandoverBundle) -> str:
    return f"{bundle_file_stem(bundle)}-sensitive.pdf"


def sensitive_manifest(bundle: HandoverBundle, plan: dict, *, served_sha256: str) -> dict:
    served = bundle_manifest(bundle)
    return {
        **{key: served[key] for key in served if key not in {"files", "part"}},
        "part": "sensitive",
        "served": {"name": f"{bundle_file_stem(bundle)}.pdf", "sha256": served_sha256},
        "files": [],
    }


def _context(bundle: HandoverBundle, plan: dict, served_sha256: str) -> dict:
    from evidence.bundles.render import case_context

    tasking = bundle.tasking
    protected = User.objects.in_bulk([int(pk) for pk in plan.get("witnesses", {})])
    return {
        **case_context(plan),
        "bundle": bundle,
        "tasking": tasking,
        "authorisation": tasking.authorisation,
        "generated_at": generated_at(plan),
        "witnesses": [
            {"pseudonym": name, "name": protected[int(pk)].get_full_name(), "email": protected[int(pk)].email}
            for pk, name in sorted(plan.get("witnesses", {}).items(), key=lambda item: item[1])
            if int(pk) in protected
        ],
        "mg6d": scheduled(bundle, plan, "MG6D"),
        "mg6d_signature": signature_view(plan, "MG6D"),
        "certificate": CERTIFICATE["MG6D"],
        "served_name": f"{bundle_file_stem(bundle)}.pdf",
        "served_sha256": served_sha256,
        "certificate_sha256": certificate_fingerprint(signing_pair()[1]),
        "pdf_name": sensitive_file_name(bundle),
        "timestamped": bool(settings.PORTAL_TSA_URL),
    }


def write_sensitive(
    bundle: HandoverBundle, plan: dict, *, served_sha256: str, folder: Path, token: str
) -> tuple[Path, int]:
    """Render, stamp and sign the sensitive part; returns the signed file and its page count."""
    from evidence.bundles.assemble import align_identity, sign_pdf_file

    rendered, unsigned, signed = (
        folder / f"{name}.{token}.pdf" for name in ("sensitive-pages", "sensitive", "sensitive-signed")
    )
    body = render_to_string("evidence/bundle/sensitive.html", _context(bundle, plan, served_sha256))
    with rendering():
        document = html(bundle, body).render()
        document.write_pdf(rendered, pdf_variant="pdf/a-3b", pdf_tags=True)
        pages = len(document.pages)
        del document
    align_identity(rendered)
    urn = display_urn(plan.get("case", {}).get("urn", ""))

    def footer(number: int) -> str:
        return (
            f"OFFICIAL-SENSITIVE · SENSITIVE PART, FOR THE CPS ONLY · URN {urn} · {bundle.tasking.reference} "
            f"v{bundle.version} · Page {number} of {pages}"
        )

    manifest = json.dumps(sensitive_manifest(bundle, plan, served_sha256=served_sha256), indent=2).encode()
    with unsigned.open("wb") as out:
        writer = StreamingPdfWriter(out, font=load_font())
        writer.embed_file(
            "manifest.json",
            manifest,
            "application/json",
            "The sensitive part's manifest: the case, and the served bundle it accompanies",
            relationship="Data",
            modified=timezone.now().strftime("D:%Y%m%d%H%M%SZ"),
        )
        writer.append(rendered, footer=footer, identity=True)
        writer.finish(bookmarks=[Bookmark("Sensitive part (CPS only)", 1, 0)], document_id=uuid.uuid4().bytes)
    sign_pdf_file(unsigned, signed)
    return signed, pages
