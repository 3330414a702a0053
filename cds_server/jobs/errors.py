"""How a job's code says it cannot go on. These never reach HTTP: the runner turns them into states.

::

    JobError
    ├── JobFailed        permanent: the job fails now with ``code`` (bad cohort, unknown backend, ...)
    ├── JobRetry         transient: the unit goes back to the queue and is tried again later
    └── JobAbandoned     the claim is gone (cancelled, or handed to another worker): stop, write nothing

``code`` is stable and ``message`` content-free: both are shown to the job's owner and logged.
"""

from __future__ import annotations


class JobError(Exception):
    code = "job-error"

    def __init__(self, code: str | None = None, message: str | None = None) -> None:
        self.code = code or self.code
        self.message = message or self.code
        super().__init__(self.message)


class JobFailed(JobError):
    code = "failed"


class JobRetry(JobError):
    code = "retry"


class JobAbandoned(JobError):
    code = "abandoned"
