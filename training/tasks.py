"""Thin Celery tasks of the training app."""

from portal.jobs import JobGaveUp, job_progress, job_task
from portal.models import Job
from training.certificates import certificate_store_pdf
from training.models import Certificate


@job_task("training.certificate_pdf")
def certificate_pdf(job: Job) -> dict:
    certificate = Certificate.objects.select_related("user", "module", "version").filter(pk=job.object_id).first()
    if certificate is None:
        raise JobGaveUp(f"Certificate {job.object_id} no longer exists.")
    job_progress(job=job, percent=10, stage="Rendering the certificate")
    certificate = certificate_store_pdf(certificate)
    return {"pdf_sha256": certificate.pdf_sha256}
