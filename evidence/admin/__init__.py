"""Officer admin for evidence (each module registers its ModelAdmins): authorisations, taskings and what they
hold, exhibits read-only and reviewed with a safe preview, safeguarding alerts, bundles and their shares."""

from evidence.admin import alerts, authorisations, bundles, exhibits, partners, taskings  # noqa: F401  (registers them)
