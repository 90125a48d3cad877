"""When, and why, an item may be disposed of: the single source of truth disposal (and every page) asks.

`disposal_status(item)` takes a tasking, an exhibit, anything else of a tasking (a note, a statement, a
bundle…), a person (a User or a Volunteer: all their records) or one of a person's records (vetting,
training, welfare), and answers with the earliest disposal date (None: keep, no date yet), the rule and
its reason and source (retention/rules.py), and the legal holds standing over it. `may_dispose_now` is true
only on or after that date and while no hold stands. `case_statuses(items)` is the same answer for many items of
case material at once, in a fixed number of queries: `disposal_status` of one is `case_statuses` of a list of one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from django.db.models import Q
from django.utils import timezone

from evidence.models import Exhibit, Tasking
from portal.models import User
from retention import rules
from retention.models import CaseOutcome, LegalHold
from retention.periods import periods_by_scheme, periods_for
from volunteers.models import StatusChange, Volunteer
from volunteers.selectors import LEFT_STATUSES

# Which of a person's records each model is, by label: its retention rule counts from the day they left. (A
# Volunteer, or a User, is the person as a whole: all three kinds, the one kept longest deciding.)
PERSON_RECORDS = {
    "volunteers.statuschange": "vetting",
    "volunteers.vettingrecord": "vetting",
    "volunteers.vettingcheck": "vetting",
    "volunteers.adverseinformation": "vetting",
    "volunteers.integrityreview": "vetting",
    "volunteers.codeofconductacceptance": "training",
    "training.attempt": "training",
    "training.attemptreset": "training",
    "training.certificate": "training",
    "volunteers.screeningrecord": "welfare",
    "volunteers.screeningrequest": "welfare",
    "volunteers.exposureevent": "welfare",
    "volunteers.standdown": "welfare",
}
RECORD_KINDS = ("vetting", "training", "welfare")
LEFT = LEFT_STATUSES  # the statuses in which a volunteer has left the scheme (both are final)


@dataclass(frozen=True)
class DisposalStatus:
    """Whether an item may be disposed of, and why (or why not)."""

    earliest: date | None  # None: keep, no disposal date yet
    rule: str
    reason: str
    source: str
    holds: tuple[LegalHold, ...]
    today: date

    @property
    def may_dispose_now(self) -> bool:
        return not self.holds and self.earliest is not None and self.earliest <= self.today

    @property
    def summary(self) -> str:
        """One sentence: "Keep until 12 March 2027: six months from conviction (CPIA Code 5.9) — …", after what
        holds it, if anything does."""
        if self.earliest is None:
            text = f"keep: no disposal date yet — {self.reason}."
        elif self.earliest > self.today:
            text = f"keep until {rules.day(self.earliest)}: {self.reason}."
        else:
            text = f"may be disposed of from {rules.day(self.earliest)}: {self.reason}."
        if not self.holds:
            return text[:1].upper() + text[1:]
        count = len(self.holds)
        held = "; ".join(f"{hold.get_kind_display().lower()} on {hold.target_label}" for hold in self.holds)
        stand = f"{count} legal hold{'s' if count > 1 else ''} stand{'' if count > 1 else 's'}"
        return (
            f"Held: nothing may be disposed of while {stand} ({held}). Without {'them' if count > 1 else 'it'}, {text}"
        )


def _today(today: date | None) -> date:
    return today or timezone.localdate()


def case_facts(tasking: Tasking) -> rules.CaseFacts:
    """The outcome recorded for the tasking's case; an open case until one is recorded."""
    return _case_facts([tasking.pk])[tasking.pk]


def _case_facts(tasking_ids: Iterable[int]) -> dict[int, rules.CaseFacts]:
    """`case_facts` of many taskings, by id, in one query."""
    found = dict.fromkeys(tasking_ids, rules.CaseFacts())
    if found:
        for outcome in CaseOutcome.objects.filter(tasking_id__in=found):
            found[outcome.tasking_id] = outcome.facts()
    return found


def case_outcome(tasking: Tasking) -> CaseOutcome | None:
    return CaseOutcome.objects.filter(tasking_id=tasking.pk).select_related("recorded_by").first()


def standing_holds(*, tasking: Tasking | None = None, exhibit: Exhibit | None = None, person=None) -> list[LegalHold]:
    """Holds standing over a tasking (its own, and those on any of its exhibits: disposing of the tasking
    disposes of them), over an exhibit (its own and its tasking's), or over a person's records."""
    if exhibit is not None:
        return list(CaseHolds([(exhibit.tasking_id, exhibit.pk)]).over(exhibit.tasking_id, exhibit.pk))
    if tasking is not None:
        return list(CaseHolds([(tasking.pk, None)]).over(tasking.pk, None))
    if person is None:
        raise TypeError("standing_holds needs a tasking, an exhibit or a person")
    return list(
        LegalHold.objects.filter(person=person, lifted_at__isnull=True)
        .select_related("tasking", "exhibit", "person", "set_by")
        .order_by("set_at", "pk")
    )


class CaseHolds:
    """The holds standing over many items of case material, read in one query; `over` says which stand over
    one of them, in the order they were set. This is where what covers what is decided: an exhibit is under its
    own holds and its tasking's; a tasking (and anything of it that is not an exhibit) under its own and those on
    any of its exhibits, since disposing of the tasking disposes of them."""

    def __init__(self, cases: Iterable[tuple[int, int | None]]) -> None:
        """`cases`: (tasking id, exhibit id) of each item; the exhibit id None for the tasking as a whole."""
        cases = list(cases)
        taskings = {tasking_id for tasking_id, _ in cases}
        exhibits = {exhibit_id for _, exhibit_id in cases if exhibit_id is not None}
        wholes = {tasking_id for tasking_id, exhibit_id in cases if exhibit_id is None}
        self.on_tasking: dict[int, list[LegalHold]] = defaultdict(list)
        self.on_exhibit: dict[int, list[LegalHold]] = defaultdict(list)
        self.on_exhibits_of: dict[int, list[LegalHold]] = defaultdict(list)  # by the exhibit's tasking
        if not cases:
            return
        over = Q(tasking_id__in=taskings)
        if exhibits:
            over |= Q(exhibit_id__in=exhibits)
        if wholes:
            over |= Q(exhibit__tasking_id__in=wholes)
        for hold in (
            LegalHold.objects.filter(over, lifted_at__isnull=True)
            .select_related("tasking", "exhibit", "person", "set_by")
            .order_by("set_at", "pk")
        ):
            if hold.tasking_id is not None:
                self.on_tasking[hold.tasking_id].append(hold)
            else:
                self.on_exhibit[hold.exhibit_id].append(hold)
                self.on_exhibits_of[hold.exhibit.tasking_id].append(hold)

    def over(self, tasking_id: int, exhibit_id: int | None) -> tuple[LegalHold, ...]:
        if exhibit_id is not None:
            found = [*self.on_exhibit.get(exhibit_id, ()), *self.on_tasking.get(tasking_id, ())]
        else:
            found = [*self.on_tasking.get(tasking_id, ()), *self.on_exhibits_of.get(tasking_id, ())]
        return tuple(sorted(found, key=lambda hold: (hold.set_at, hold.pk)))


def left_on(person: User) -> date | None:
    """The day a volunteer left the scheme (withdrawn or refused: both final), in UK time; None while they are
    in it, and for people who are not volunteers (the portal does not record when staff leave)."""
    volunteer = Volunteer.objects.filter(user=person).only("pk", "status").first()
    if volunteer is None or volunteer.status not in LEFT:
        return None
    at = (
        StatusChange.objects.filter(volunteer=volunteer, to_status=volunteer.status)
        .order_by("-at", "-pk")
        .values_list("at", flat=True)
        .first()
    )
    return timezone.localdate(at) if at is not None else None


def tasking_of(item) -> tuple[Tasking, Exhibit | None] | None:
    """The tasking an item of case material belongs to, and the exhibit when it is one or hangs off one (a custody
    event, an unused-material entry). Everything of a tasking takes the tasking's retention date."""
    if isinstance(item, Tasking):
        return item, None
    if isinstance(item, Exhibit):
        return item.tasking, item
    if getattr(item, "exhibit_id", None):
        return item.exhibit.tasking, item.exhibit
    if getattr(item, "tasking_id", None):  # a note, a statement, a bundle, an alert, a schedule…
        return item.tasking, None
    for hop in ("statement", "bundle"):  # a statement's draft; a bundle's share or download
        if getattr(item, f"{hop}_id", None):
            return tasking_of(getattr(item, hop))
    return None


def _person_of(record) -> User:
    for hop in ("person", "user"):
        if hasattr(record, f"{hop}_id"):
            return getattr(record, hop)
    if hasattr(record, "volunteer_id"):
        return record.volunteer.user
    return record.record.volunteer.user  # a vetting check, through its vetting record


def disposal_status(item, *, today: date | None = None) -> DisposalStatus:
    """When the item may be disposed of and why, with the legal holds standing over it (see the module's
    docstring for what an item may be). Raises TypeError for anything the retention rules do not cover."""
    today = _today(today)
    if isinstance(item, User):
        return person_disposal_status(item, today=today)
    label = item._meta.label_lower
    if label == "volunteers.volunteer":
        return person_disposal_status(item.user, today=today)
    if label in PERSON_RECORDS:
        return person_records_status(_person_of(item), PERSON_RECORDS[label], today=today)
    return case_statuses([item], today=today)[0]


def case_statuses(items: Iterable, *, today: date | None = None) -> list[DisposalStatus]:
    """`disposal_status` of each item of case material (a tasking, an exhibit, anything of a tasking), in order,
    in three queries however many there are — the outcomes, the standing holds, the schemes' own periods — once
    each item's tasking is loaded (`select_related("tasking")` for exhibits). Raises TypeError as
    `disposal_status` does for anything else."""
    today = _today(today)
    cases = []
    for item in items:
        case = tasking_of(item)
        if case is None:
            raise TypeError(f"No retention rule covers {item._meta.label}: add it to retention/selectors.py.")
        cases.append(case)
    if not cases:
        return []
    facts = _case_facts({tasking.pk for tasking, _ in cases})
    periods = periods_by_scheme({tasking.scheme_id for tasking, _ in cases})
    holds = CaseHolds((tasking.pk, exhibit.pk if exhibit is not None else None) for tasking, exhibit in cases)
    statuses = []
    for tasking, exhibit in cases:
        found = rules.case_retention(facts[tasking.pk], periods[tasking.scheme_id])
        over = holds.over(tasking.pk, exhibit.pk if exhibit is not None else None)
        statuses.append(DisposalStatus(found.earliest, found.rule, found.reason, found.source, over, today))
    return statuses


def person_records_status(person: User, records: str, *, today: date | None = None) -> DisposalStatus:
    """One kind of a person's records (vetting, training or welfare)."""
    found = rules.person_retention(records, left_on(person), periods_for(person.scheme))
    holds = standing_holds(person=person)
    return DisposalStatus(found.earliest, found.rule, found.reason, found.source, tuple(holds), _today(today))


def person_statuses(person: User, *, today: date | None = None) -> dict[str, DisposalStatus]:
    """Each kind of the person's records, in the order they are shown."""
    today = _today(today)
    leaving = left_on(person)
    periods = periods_for(person.scheme)
    holds = tuple(standing_holds(person=person))
    statuses = {}
    for kind in RECORD_KINDS:
        found = rules.person_retention(kind, leaving, periods)
        statuses[kind] = DisposalStatus(found.earliest, found.rule, found.reason, found.source, holds, today)
    return statuses


def person_disposal_status(person: User, *, today: date | None = None) -> DisposalStatus:
    """All of a person's records together (their account and profile): the kind kept longest decides."""
    statuses = list(person_statuses(person, today=today).values())
    undated = [status for status in statuses if status.earliest is None]
    if undated:
        return undated[0]
    return max(statuses, key=lambda status: status.earliest)


# The outcomes under which case material gets a disposal date at all (an open or charged case is kept).
DATED_OUTCOMES = ("nfa", "acquitted", "discontinued", "convicted")


@dataclass(frozen=True)
class DisposalCandidate:
    """One row of the disposal review list: an exhibit, when and why it may go, and its proposal if one awaits."""

    exhibit: Exhibit
    status: DisposalStatus
    proposal: object | None  # a DisposalProposal awaiting approval


def disposal_review(scheme_id: int, *, today: date | None = None) -> list[DisposalCandidate]:
    """The scheme's exhibits not yet disposed of that may be disposed of now (past their date, no hold), and any
    awaiting approval whatever they show now: the officers' disposal review list, oldest date first."""
    from retention.models import DisposalProposal

    today = _today(today)
    awaiting = {
        proposal.exhibit_id: proposal
        for proposal in DisposalProposal.objects.filter(
            exhibit__tasking__scheme_id=scheme_id, state=DisposalProposal.State.PROPOSED
        ).select_related("proposed_by")
    }
    exhibits = list(
        Exhibit.objects.filter(tasking__scheme_id=scheme_id, disposed_at__isnull=True)
        .filter(Q(tasking__case_outcome__outcome__in=DATED_OUTCOMES) | Q(pk__in=list(awaiting)))
        .select_related("tasking", "tasking__scheme")
        .order_by("tasking__reference", "reference")
    )
    found = []
    for exhibit, status in zip(exhibits, case_statuses(exhibits, today=today), strict=True):
        proposal = awaiting.get(exhibit.pk)
        if proposal is not None:
            proposal.exhibit = exhibit  # the row just read, with its tasking: who may approve asks it, not the DB
        if status.may_dispose_now or proposal is not None:
            found.append(DisposalCandidate(exhibit, status, proposal))
    return sorted(found, key=lambda row: (row.status.earliest or today, row.exhibit.reference))
