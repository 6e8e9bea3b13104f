"""serve's side of site runs: stopping the server never cuts a poll short (a run half written is never sealed)."""

import threading
from pathlib import Path

from drillbook.sites.scheduled import SiteRuns


class SlowCentral:
    """A poll that is busy writing and sealing a received run until the test lets it finish."""

    def __init__(self) -> None:
        self.polling = threading.Event()
        self.finish = threading.Event()
        self.events: list[str] = []

    def poll(self) -> list[object]:
        self.polling.set()
        self.finish.wait(10)
        self.events.append("poll done")
        return []

    def close(self) -> None:
        self.events.append("closed")


def test_stopping_waits_for_the_poll_in_progress_then_closes_the_outbox(tmp_path: Path) -> None:
    central = SlowCentral()
    runs = SiteRuns(central, lambda _name: None, lambda *a, **k: None, threading.Event(),  # type: ignore[arg-type]
                    overrun_factor=3.0, reports=tmp_path)
    runs.start_polling()
    assert central.polling.wait(5)
    stopper = threading.Thread(target=runs.stop_polling, args=(10.0,))
    stopper.start()
    stopper.join(0.3)
    assert stopper.is_alive() and central.events == []  # the outbox stays open under the poll
    central.finish.set()
    stopper.join(5)
    assert not stopper.is_alive() and central.events == ["poll done", "closed"]
