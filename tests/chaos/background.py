"""What the chaos run's helpers that work beside it (the killer, the customer, the soak's
sampler) share: a loop on a daemon thread from `start()` until `stop()`, which waits for it."""

from __future__ import annotations

import threading


class OnItsThread:
    """Runs `_run` on a thread of its own; `_run` ends once `stop_event` is set."""

    thread_name = "chaos"

    def _make_thread(self) -> None:
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)

    def _run(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join()
