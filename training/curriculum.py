"""The platform curriculum: TOML files in training/curriculum/, published as module versions."""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

from training.models import ModuleVersion
from training.services import module_publish

CURRICULUM_DIR = Path(__file__).resolve().parent / "curriculum"


def curriculum_files(directory: Path = CURRICULUM_DIR) -> list[Path]:
    return sorted(directory.glob("*.toml"))


def seed_curriculum(directory: Path = CURRICULUM_DIR) -> list[tuple[str, str]]:
    """Publish each file whose content changed since its last publication; returns (slug, what happened)."""
    outcome = []
    for path in curriculum_files(directory):
        raw = path.read_bytes()
        digest = hashlib.sha256(raw).hexdigest()
        data = tomllib.loads(raw.decode("utf-8"))
        latest = ModuleVersion.objects.filter(module__slug=data["slug"]).order_by("-number").first()
        if latest is not None and latest.source_sha256 == digest:
            outcome.append((data["slug"], f"version {latest.number} is current"))
            continue
        version = module_publish(data=data, source_sha256=digest, recertify_by=data.get("recertify_by"))
        outcome.append((data["slug"], f"published version {version.number}"))
    return outcome
