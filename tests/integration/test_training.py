"""Training: publishing, attempts, cooldown and limits, certificates, expiry and re-certification."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from portal.models import AuditEvent, Job
from tests.conftest import module_data, pass_module, right_answers
from training import services
from training.api import mandatory_training_status
from training.codes import is_short_code
from training.models import Attempt, Certificate


@pytest.fixture
def version(db):
    return services.module_publish(data=module_data())


def test_publishing_renders_sanitised_markdown(db):
    data = module_data()
    data["content"] = "## Title\n\n<script>alert(1)</script>\n\n<a href='javascript:x' onclick='y'>link</a> **bold**"
    version = services.module_publish(data=data)
    assert '<h2 class="govuk-heading-m">Title</h2>' in version.content_html
    assert "<script" not in version.content_html and "onclick" not in version.content_html
    assert "javascript:" not in version.content_html and "<strong>bold</strong>" in version.content_html


def test_a_question_without_a_right_answer_is_refused(db):
    data = module_data()
    for choice in data["questions"][0]["choices"]:
        choice["correct"] = False
    with pytest.raises(ValidationError, match="does not have a valid set of correct answers"):
        services.module_publish(data=data)


def test_an_attempt_resumes_with_the_same_order(vera, version):
    first = services.attempt_start(user=vera, module=version.module)
    again = services.attempt_start(user=vera, module=version.module)
    assert first.pk == again.pk and first.seed == again.seed


def test_a_pass_issues_a_certificate_that_expires_after_the_modules_validity(vera, version):
    attempt = pass_module(vera, version)
    assert attempt.passed and attempt.score_percent == 100
    certificate = Certificate.objects.get(attempt=attempt)
    months = (certificate.expires_at.year - certificate.passed_at.year) * 12 + (
        certificate.expires_at.month - certificate.passed_at.month
    )
    assert months == 12
    assert is_short_code(certificate.code)  # twelve characters a person can read off paper (training.codes)
    assert Job.objects.filter(kind="training.certificate_pdf", object_id=str(certificate.pk)).exists()


def test_a_partly_wrong_attempt_fails_and_the_next_waits_for_the_cooldown(vera, version, settings):
    attempt = services.attempt_start(user=vera, module=version.module)
    attempt = services.attempt_submit(attempt=attempt, answers=right_answers(version, wrong=2))
    assert attempt.score_percent == 50 and attempt.passed is False
    assert not Certificate.objects.filter(user=vera).exists()
    with pytest.raises(services.AttemptRefused, match="You can try again from"):
        services.attempt_start(user=vera, module=version.module)
    with time_machine.travel(timezone.now() + timedelta(minutes=settings.PORTAL_TRAINING_COOLDOWN_MINUTES + 1)):
        assert services.attempt_start(user=vera, module=version.module).pk != attempt.pk


def test_after_the_maximum_attempts_an_officer_must_reset(vera, owen, version, settings):
    settings.PORTAL_TRAINING_COOLDOWN_MINUTES = 0
    for _ in range(settings.PORTAL_TRAINING_MAX_ATTEMPTS):
        attempt = services.attempt_start(user=vera, module=version.module)
        services.attempt_submit(attempt=attempt, answers=right_answers(version, wrong=4))
    with pytest.raises(services.AttemptRefused, match="Ask your supervising officer"):
        services.attempt_start(user=vera, module=version.module)
    services.attempts_reset(user=vera, module=version.module, by=owen, reason="Talked it through.")
    assert services.attempt_start(user=vera, module=version.module)
    assert AuditEvent.objects.filter(action="training.attempts_reset", actor_email=owen.email).exists()


def test_a_submitted_attempt_cannot_be_submitted_again(vera, version):
    attempt = pass_module(vera, version)
    with pytest.raises(ValidationError, match="already been submitted"):
        services.attempt_submit(attempt=attempt, answers=right_answers(version))


def test_choices_from_another_question_are_ignored(vera, version):
    attempt = services.attempt_start(user=vera, module=version.module)
    answers = right_answers(version)
    first, second = list(answers)[:2]
    answers[first] = answers[first] + answers[second]  # smuggle another question's choice ids in
    attempt = services.attempt_submit(attempt=attempt, answers=answers)
    assert attempt.score_percent == 100


def test_mandatory_training_is_current_only_with_every_mandatory_module_passed(vera, db):
    first = services.module_publish(data=module_data("first"))
    second = services.module_publish(data=module_data("second"))
    services.module_publish(data=module_data("optional-extra", mandatory=False))
    pass_module(vera, first)
    status = mandatory_training_status(vera)
    assert not status.current and status.missing == ["Second"]
    pass_module(vera, second)
    assert mandatory_training_status(vera).current


def test_a_certificate_stops_counting_when_it_expires(vera, version):
    pass_module(vera, version)
    certificate = Certificate.objects.get(user=vera)
    assert mandatory_training_status(vera, at=certificate.expires_at - timedelta(days=1)).current
    assert not mandatory_training_status(vera, at=certificate.expires_at + timedelta(seconds=1)).current


def test_a_new_version_with_a_recertification_date_retires_older_certificates_on_that_date(vera, version):
    pass_module(vera, version)
    deadline = timezone.localdate() + timedelta(days=30)
    services.module_publish(data=module_data(), recertify_by=deadline)
    from training.selectors import module_states

    state = module_states(vera)[0]
    assert state.state == "recertify" and state.counts
    late = timezone.make_aware(timezone.datetime.combine(deadline, timezone.datetime.min.time())) + timedelta(hours=12)
    assert not mandatory_training_status(vera, at=late).current
    assert module_states(vera, now=late)[0].label == "Re-certification required"


def test_a_revoked_certificate_does_not_count_and_revoking_needs_a_reason(vera, owen, version):
    pass_module(vera, version)
    certificate = Certificate.objects.get(user=vera)
    with pytest.raises(ValidationError, match="Give the reason"):
        services.certificate_revoke(certificate=certificate, by=owen, reason=" ")
    services.certificate_revoke(certificate=certificate, by=owen, reason="Answers shared with others.")
    assert not mandatory_training_status(vera).current
    assert AuditEvent.objects.filter(action="training.certificate_revoke", actor_email=owen.email).exists()


def test_deployability_waits_for_training_once_modules_exist(deployable_vera):
    from volunteers.deployability import Code, deployability_for

    version = services.module_publish(data=module_data())
    assert deployability_for(deployable_vera).codes == [Code.TRAINING_NOT_CURRENT]
    pass_module(deployable_vera.user, version)
    assert deployability_for(deployable_vera).allowed


def test_the_attempt_page_never_contains_the_correct_answers(client, vera, version):
    from tests.conftest import PASSWORD

    client.post("/accounts/login/", {"login": vera.email, "password": PASSWORD})
    client.post(f"/training/{version.module.slug}/start/")
    attempt = Attempt.objects.get(user=vera)
    html = client.get(f"/training/attempts/{attempt.pk}/").content.decode()
    assert "Explanation" not in html and "correct" not in html.lower()
    # Right and wrong choices are marked up identically: strip the texts and ids and compare.
    inputs = re.findall(r'<input class="govuk-(?:radios|checkboxes)__input"[^>]*>', html)
    shapes = {re.sub(r'(id|value|name)="[^"]*"', "", tag).replace(" checked", "") for tag in inputs}
    assert len(shapes) == 2  # one shape for radios, one for checkboxes — nothing else distinguishes them


def test_the_attempt_page_asks_for_missing_answers_and_keeps_the_ones_given(client, vera, version):
    from tests.conftest import PASSWORD

    client.post("/accounts/login/", {"login": vera.email, "password": PASSWORD})
    client.post(f"/training/{version.module.slug}/start/")
    attempt = Attempt.objects.get(user=vera)
    answers = right_answers(version)
    first = next(iter(answers))
    response = client.post(f"/training/attempts/{attempt.pk}/", {f"q_{first}": answers[first]})
    body = response.content.decode()
    assert response.status_code == 200 and "There is a problem" in body
    assert f'value="{answers[first][0]}" checked' in body
    attempt.refresh_from_db()
    assert attempt.submitted_at is None


def test_another_persons_attempt_is_not_found(client, vera, owen, version):
    attempt = services.attempt_start(user=owen, module=version.module)
    from tests.conftest import PASSWORD

    client.post("/accounts/login/", {"login": vera.email, "password": PASSWORD})
    assert client.get(f"/training/attempts/{attempt.pk}/").status_code == 404
