"""Tasks only the tests' workers load (celery worker --include tests.worker_tasks)."""

import time
from pathlib import Path

from celery import shared_task


@shared_task(name="tests.block_until", ignore_result=True)
def block_until(path: str, timeout: float = 120) -> None:
    """Hold a worker's only slot, as a long chunk render does, until the file `path` exists."""
    deadline = time.monotonic() + timeout
    while not Path(path).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
