"""The shipped curriculum: five mandatory modules that publish cleanly, idempotently."""

import tomllib

from training.curriculum import curriculum_files, seed_curriculum
from training.models import Module, ModuleVersion

REQUIRED = {"legal-framework", "evidence-capture", "safeguarding", "wellbeing", "data-protection"}


def test_the_curriculum_ships_the_five_mandatory_modules_with_at_least_8_questions_each():
    modules = {}
    for path in curriculum_files():
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        modules[data["slug"]] = data
    assert set(modules) >= REQUIRED
    for slug in REQUIRED:
        data = modules[slug]
        assert data["mandatory"] is True, slug
        assert len(data["questions"]) >= 8, slug
        assert any(q["kind"] == "multiple" for q in data["questions"]), slug
        assert all(q["explanation"].strip() for q in data["questions"]), slug


def test_seeding_publishes_once_and_again_only_when_a_file_changes(db, tmp_path):
    first = seed_curriculum()
    assert all(what == "published version 1" for _, what in first)
    assert Module.objects.filter(slug__in=REQUIRED, mandatory=True).count() == len(REQUIRED)
    assert all(what.endswith("is current") for _, what in seed_curriculum())

    changed = tmp_path / "legal-framework.toml"
    source = next(p for p in curriculum_files() if p.name.endswith("legal-framework.toml")).read_text()
    changed.write_text(source.replace("## ", "## Updated: ", 1))
    assert seed_curriculum(tmp_path) == [("legal-framework", "published version 2")]
    assert ModuleVersion.objects.filter(module__slug="legal-framework").count() == 2
