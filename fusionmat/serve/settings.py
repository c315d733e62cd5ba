"""How one server runs: its engine, limits, defaults and who it answers."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServeSettings:
    """Everything ``fusionmat serve`` is started with (see its ``--help`` for each).

    max_memory_mb : the whole server's memory (engines included); None sizes it to the machine.
    allowed_hosts : Host names answered; () means the defaults of :func:`fusionmat.serve.guard.default_hosts`,
        ('*',) any.
    allow_origins : pages elsewhere that may POST (``https://app.example``); '*' any.
    body_timeout : seconds a request's headers may take, and its body may go without progress.
    grace : seconds SIGTERM waits for requests in progress.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    engine: str = "modnet"
    engine_options: tuple = ()
    workers: int = 1
    threads: int | None = None
    max_upload_mb: float = 25.0
    max_queue: int = 16
    max_memory_mb: int | None = None
    body_timeout: float = 5.0
    rotate: str = "auto"
    crop: str = "auto"
    aspect: str = "none"
    allowed_hosts: tuple[str, ...] = ()
    allow_origins: tuple[str, ...] = ()
    access_log: str | None = None
    grace: float = 30.0

    @property
    def body_deadline(self) -> float:
        """Seconds a whole body may take, however steadily it comes."""
        return max(120.0, 4 * self.body_timeout)
