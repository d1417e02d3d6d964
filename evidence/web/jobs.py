"""Background jobs of the web app: packets and audit responses rendered by a worker thread.

A request starts a job and returns at once; the job page shows its stage until it is done. A job
belongs to the user who started it (anyone else is told there is no such job). Its files live in
an owner-only folder `<home>/web-packets/<job id>/` (0700, files 0600), outside the evidence
store, each written to a temporary name and renamed when complete: only finished files are ever
offered. A finished job and its folder are removed `keep_seconds` after it ended, and whatever a
previous server left there is removed when the app starts.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from evidence.errors import EvidenceError, NotFoundError
from evidence.support.fsutil import make_private_dir
from evidence.support.outputs import OutputGuard, OutputTarget

FOLDER = "web-packets"
LOG = logging.getLogger(__name__)
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MEDIA_TYPES = {"pdf": "application/pdf", "zip": "application/zip", "xlsx": _XLSX}


@dataclass(frozen=True)
class JobFile:
    kind: str  # pdf, zip or xlsx
    name: str  # the download's file name
    path: Path
    sha256: str
    size: int

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.kind]


@dataclass
class Job:
    id: str
    owner: str
    title: str
    folder: Path
    stage: str = "queued"
    summary: str | None = None  # once done: what was written (pages, attachments)
    error: str | None = None
    error_details: list[str] = field(default_factory=list)  # one line per problem, when there are several
    files: list[JobFile] = field(default_factory=list)
    finished_at: float | None = None
    _done: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def running(self) -> bool:
        return not self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def file(self, kind: str) -> JobFile:
        for item in self.files:
            if item.kind == kind:
                return item
        raise NotFoundError(f"job {self.id} has no {kind} file")


class JobContext:
    """What a job's work sees: its stage to set and its folder's guarded outputs."""

    def __init__(self, job: Job, guard: OutputGuard):
        self._job, self._guard = job, guard

    def stage(self, text: str) -> None:
        self._job.stage = text

    def target(self, name: str, what: str) -> OutputTarget:
        return self._guard.target(self._job.folder / name, what=what)

    def offer(self, kind: str, name: str, sha256: str, size: int) -> None:
        """A file now complete under its name: from here on it is offered for download."""
        self._job.files.append(JobFile(kind, name, self._job.folder / name, sha256, size))

    def summary(self, text: str) -> None:
        self._job.summary = text


Work = Callable[[JobContext], None]


class JobRunner:
    def __init__(self, home: Path, store_guard: OutputGuard, *, workers: int = 1, keep_seconds: int = 3600,
                 now: Callable[[], float] = time.time):  # fmt: skip
        self.folder = home / FOLDER
        # The store's own guard, less the home folder (this folder is in it): never the store, never the database.
        self._guard = store_guard
        self._keep, self._now = keep_seconds, now
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="evidence-job")
        shutil.rmtree(self.folder, ignore_errors=True)  # a previous server's jobs died with it
        make_private_dir(self.folder)

    def submit(self, owner: str, title: str, work: Work) -> Job:
        self.clean_up()
        job_id = secrets.token_urlsafe(18)
        folder = make_private_dir(self.folder / job_id)
        job = Job(job_id, owner, title, folder)
        with self._lock:
            self._jobs[job_id] = job
        self._pool.submit(self._run, job, work)
        return job

    def _run(self, job: Job, work: Work) -> None:
        job.stage = "starting"
        try:
            work(JobContext(job, self._guard))
            job.stage = "done"
        except EvidenceError as exc:
            job.stage, job.error, job.error_details = "failed", exc.message, list(exc.details)
        except OSError as exc:
            job.stage, job.error = "failed", f"cannot write the output: {exc.strerror or exc}"
        except Exception as exc:  # a job's thread must end with a message (and a log entry), not die silently
            LOG.exception("packet job %s failed", job.id)
            job.stage, job.error = "failed", f"the job failed unexpectedly: {type(exc).__name__}"
        finally:
            if job.error is not None:
                job.files.clear()  # a failed job offers nothing, not even what it finished first
            job.finished_at = self._now()
            job._done.set()

    def get(self, job_id: str, owner: str) -> Job:
        """The job, to the user who started it only; anyone else (and an expired id) gets NotFoundError."""
        self.clean_up()
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or not secrets.compare_digest(job.owner, owner):
            raise NotFoundError("no such packet job (jobs are kept for a while after they finish, then removed)")
        return job

    def clean_up(self) -> None:
        limit = self._now() - self._keep
        with self._lock:
            expired = [j for j in self._jobs.values() if j.finished_at is not None and j.finished_at < limit]
            for job in expired:
                del self._jobs[job.id]
        for job in expired:
            shutil.rmtree(job.folder, ignore_errors=True)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
