"""A touchdown's best contact: the most precise placement's, the first added among equals."""

from sensorkit.dsp.contacts import Contact
from sensorkit.metrics.fusion import StepFusion, Touchdown
from sensorkit.model import Placement, Side


def test_the_best_ranked_contact_gives_the_touchdown_its_ic() -> None:
    td = Touchdown()
    td.put(Placement.PHONE, Contact(10.03, None, Side.UNKNOWN))
    assert (td.ic_s, td.rank) == (10.03, 2)
    td.put(Placement.LOWER_BACK, Contact(10.02, 10.2, Side.LEFT))
    assert (td.ic_s, td.rank) == (10.02, 1)
    td.put(Placement.LEFT_FOOT, Contact(10.00, 10.21, Side.LEFT))
    assert (td.ic_s, td.rank, td.best.tc_s) == (10.00, 0, 10.21)
    assert list(td.contacts) == [Placement.PHONE, Placement.LOWER_BACK, Placement.LEFT_FOOT]


def test_a_later_contact_of_equal_rank_does_not_replace_the_first() -> None:
    first = Contact(5.0, 5.2, Side.LEFT)
    td = Touchdown({Placement.LEFT_FOOT: first, Placement.LOWER_BACK: Contact(4.99, None, Side.LEFT)})
    td.put(Placement.RIGHT_FOOT, Contact(5.01, 5.2, Side.RIGHT))
    assert td.best is first and td.ic_s == 5.0


def test_touchdowns_given_their_contacts_equal_those_built_by_put() -> None:
    back, shoe = Contact(1.0, 1.2, Side.LEFT), Contact(0.99, 1.21, Side.LEFT)
    built = Touchdown()
    built.put(Placement.LOWER_BACK, back)
    built.put(Placement.LEFT_FOOT, shoe)
    given = Touchdown({Placement.LOWER_BACK: back, Placement.LEFT_FOOT: shoe})
    assert given == built and given.best is shoe and given.rank == 0


def test_fusion_matches_contacts_to_the_best_ranked_ic() -> None:
    f = StepFusion(match_tol_s=0.05)
    f.add(Placement.LOWER_BACK, [Contact(1.00, 1.2, Side.LEFT), Contact(1.40, 1.6, Side.RIGHT)])
    f.add(Placement.LEFT_FOOT, [Contact(0.97, 1.22, Side.LEFT)])
    f.add(Placement.RIGHT_FOOT, [Contact(1.42, 1.62, Side.RIGHT)])
    assert f.first_pending_ic_s() == 0.97
    steps = f.release(None)
    assert [s.touchdown.ic_s for s in steps] == [0.97, 1.42]
    assert [s.touchdown.sources for s in steps] == ["left_foot+lower_back", "right_foot+lower_back"]
