"""Verify every exhibit's custody chain, its time-stamped anchors and its stored file, and every disposal of
people's records; exit non-zero naming the first failure."""

from django.core.management.base import BaseCommand, CommandError

from evidence.custody import custody_verify_all
from portal.anchors import anchors_check


class Command(BaseCommand):
    help = (
        "Re-compute each exhibit's custody chain, check it still passes through every head an RFC 3161 "
        "time-stamp anchored, and re-compute the SHA-256 of each stored file; then check that every disposal of "
        "people's records still holds (its certificate unchanged, nothing it removed held again)."
    )

    def handle(self, *args, **options) -> None:
        report = anchors_check()
        if report.problems:
            listed = "\n".join(f"- {problem}" for problem in report.problems)
            raise CommandError(f"Custody NOT shown intact: the time-stamped anchors show:\n{listed}")
        checked = disposed = 0
        for exhibit, problem in custody_verify_all(report):
            if problem:
                raise CommandError(f"Exhibit {exhibit.reference} (tasking {exhibit.tasking.reference}): {problem}.")
            checked += 1
            disposed += exhibit.disposed_at is not None
        if disposed:
            self.stdout.write(
                f"{disposed} of the exhibits were disposed of: each chain ends with its disposal, its tombstone "
                "agrees with the exhibit's SHA-256 and size, and no content is left in storage (verified disposed)."
            )
        from retention.person_disposal import person_disposals_verify

        people, problems = person_disposals_verify()
        if problems:
            listed = "\n".join(f"- {problem}" for problem in problems)
            raise CommandError(f"Disposals of people's records NOT shown intact:\n{listed}")
        if people:
            self.stdout.write(
                f"{people} disposals of people's records verified: each certificate is stored and unchanged, and "
                "nothing it says was removed is held."
            )
        if report.newest is None:
            why = (
                "No time-stamping authority is configured (PORTAL_TSA_URL)"
                if not report.tsa_configured
                else "No anchor has been made yet (the daily job, or `manage.py anchor_chains`, makes one)"
            )
            self.stdout.write(
                self.style.SUCCESS(
                    f"Custody self-consistent: {checked} exhibits, chains and files verified. {why}, so the chains "
                    "can only be shown to be self-consistent: someone able to write the database could delete an "
                    "exhibit's newest events and they would still check."
                )
            )
            return
        anchored = sum(len(heads) for chain, heads in report.heads.items() if chain.startswith("custody:"))
        self.stdout.write(
            self.style.SUCCESS(
                f"Custody intact: {checked} exhibits, chains and files verified; every chain passes through its "
                f"{anchored} anchored heads, the newest time-stamped on {report.describe_newest()}. Events written "
                "since then are only self-consistent until the next anchor."
            )
        )
