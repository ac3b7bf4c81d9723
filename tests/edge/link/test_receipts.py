"""The receipt window: re-send timeouts double up to a cap; an early receipt starts no wait."""

from __future__ import annotations

from edge.link.receipts import ReceiptWindow


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_timeouts_double_to_the_cap_and_a_receipt_ends_the_wait() -> None:
    ticks = Ticks()
    window = ReceiptWindow(timeout_s=1.0, backoff_max_s=3.0, limit=2, monotonic=ticks)
    window.acked(7)
    assert window.not_due() == {7}
    ticks.now += 1.0
    assert window.not_due() == set()  # due: the drain sends it again
    waits = []
    for _ in range(3):
        start = ticks.now
        window.acked(7)  # the re-send's PUBACK
        while 7 in window.not_due():
            ticks.now += 0.5
        waits.append(ticks.now - start)
    assert waits == [2.0, 3.0, 3.0]
    window.acked(8)
    assert window.full
    window.receipted([7, 8], with_paho=())
    assert len(window) == 0
    assert not window.full


def test_a_receipt_before_the_puback_starts_no_wait() -> None:
    window = ReceiptWindow(timeout_s=1.0, backoff_max_s=3.0, limit=10)
    window.receipted([5], with_paho={5})
    window.acked(5)
    assert 5 not in window
    assert len(window) == 0
