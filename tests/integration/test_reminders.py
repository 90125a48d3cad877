"""Expiry reminders: 30, 7 and 0 days before, to the volunteer and their supervising officers, once."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from volunteers.reminders import reminders_send


@pytest.fixture
def screening_due(deployable_vera):
    from volunteers.deployability import deployability_for

    return timezone.localtime(deployability_for(deployable_vera).screening_next_due).date()


@pytest.mark.parametrize("days_before", [30, 7, 0])
def test_a_reminder_goes_on_exactly_the_right_days(deployable_vera, owen, screening_due, days_before):
    mail.outbox.clear()
    # The integrity review falls due the same day as the screening here: one reminder for each.
    assert reminders_send(today=screening_due - timedelta(days=days_before)) == 2
    about_screening = [m for m in mail.outbox if "screening" in m.subject]
    assert sorted(address for m in about_screening for address in m.to) == sorted(
        [deployable_vera.user.email, owen.email]
    )
    to_volunteer = next(m for m in about_screening if m.to == [deployable_vera.user.email])
    assert "your welfare screening is due" in to_volunteer.body


@pytest.mark.parametrize("days_before", [31, 29, 8, 6, 1, -1])
def test_no_reminder_on_other_days(deployable_vera, screening_due, days_before):
    mail.outbox.clear()
    assert reminders_send(today=screening_due - timedelta(days=days_before)) == 0
    assert mail.outbox == []


def test_running_the_job_twice_sends_nothing_twice(deployable_vera, screening_due):
    today = screening_due - timedelta(days=7)
    mail.outbox.clear()
    assert reminders_send(today=today) == 2
    sent = len(mail.outbox)
    assert reminders_send(today=today) == 0
    assert len(mail.outbox) == sent


def test_vetting_expiry_is_reminded_too(deployable_vera):
    expires = timezone.localtime(deployable_vera.vetting_records.get().expires_at).date()
    mail.outbox.clear()
    assert reminders_send(today=expires - timedelta(days=30)) == 1
    assert any("vetting clearance expires" in m.body for m in mail.outbox)


def test_officer_reminders_carry_no_health_detail(deployable_vera, owen, screening_due, wendy):
    mail.outbox.clear()
    reminders_send(today=screening_due)
    to_officer = next(m for m in mail.outbox if m.to == [owen.email] and "screening" in m.subject)
    assert "welfare screening is due" in to_officer.body
    assert "fit" not in to_officer.body.lower().replace("fitness", "")


def test_the_daily_beat_task_with_the_clock_frozen_sends_on_the_day_and_the_gate_closes(deployable_vera, screening_due):
    """No date is passed in: the real task reads the (frozen) clock, as beat runs it each morning."""
    import time_machine

    from volunteers.deployability import Code, deployability_for
    from volunteers.tasks import expiry_reminders_task

    seven_days_before = timezone.make_aware(
        timezone.datetime.combine(screening_due - timedelta(days=7), timezone.datetime.min.time())
    ) + timedelta(hours=7)
    mail.outbox.clear()
    with time_machine.travel(seven_days_before, tick=False):
        assert expiry_reminders_task() == 2
        assert deployability_for(deployable_vera).allowed
    with time_machine.travel(seven_days_before + timedelta(days=7), tick=False):
        expiry_reminders_task()
        assert Code.SCREENING_OVERDUE in deployability_for(deployable_vera).codes
