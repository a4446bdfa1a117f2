"""The outage spool: ordered, bounded, durable across restarts, rejects kept aside."""

from __future__ import annotations

from sensorkit.store.influx.spool import Spool


def test_batches_come_back_in_the_order_they_went_in(tmp_path) -> None:
    spool = Spool(tmp_path, 10_000)
    spool.open()
    for i in range(12):
        assert spool.append(f"m x={i} {i}\n".encode(), 1)
    got = []
    while (entry := spool.head()) is not None:
        got.append(spool.read(entry).decode())
        spool.pop(entry)
    assert got == [f"m x={i} {i}\n" for i in range(12)]
    assert spool.points == spool.size_bytes == len(spool) == 0


def test_a_full_spool_refuses_new_batches_and_says_so(tmp_path) -> None:
    spool = Spool(tmp_path, 100)
    spool.open()
    assert spool.append(b"x" * 60, 3)
    assert not spool.append(b"y" * 60, 3)
    assert spool.points == 3 and len(spool) == 1


def test_batches_survive_a_restart_and_half_written_files_are_discarded(tmp_path) -> None:
    first = Spool(tmp_path, 10_000)
    first.open()
    first.append(b"a 1\n", 1)
    first.append(b"b 2\nb 3\n", 2)
    (tmp_path / "0000000000000002-5.tmp").write_bytes(b"torn")  # a crash mid-write
    again = Spool(tmp_path, 10_000)
    again.open()
    assert again.points == 3 and len(again) == 2
    head = again.head()
    assert head is not None and again.read(head) == b"a 1\n"
    again.append(b"c 4\n", 1)  # continues the sequence after the old batches
    names = sorted(p.name for p in tmp_path.glob("*.lp"))
    assert names[-1].startswith("0000000000000002-")
    assert not list(tmp_path.glob("*.tmp"))


def test_a_rejected_batch_is_kept_aside_and_not_retried(tmp_path) -> None:
    spool = Spool(tmp_path, 10_000)
    spool.open()
    spool.append(b"bad line\n", 1)
    spool.append(b"m x=1 1\n", 1)
    head = spool.head()
    assert head is not None
    dest = spool.reject(head)
    assert dest.read_bytes() == b"bad line\n" and dest.parent.name == "rejected"
    nxt = spool.head()
    assert nxt is not None and spool.read(nxt) == b"m x=1 1\n" and spool.points == 1
