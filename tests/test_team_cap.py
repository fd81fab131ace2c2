"""The ten-household cap holds on every path, including under concurrency."""

import threading

import pytest
from sqlalchemy import func, select

from tests.factories import create_household, create_tree
from village_grid.errors import TeamFull
from village_grid.extensions import db
from village_grid.hierarchy import service
from village_grid.models import Household


def test_eleventh_household_refused_with_teams_that_have_room():
    tree = create_tree(grids=1, teams=3)
    full, roomy, _other = tree["teams"]
    for _ in range(10):
        create_household(full)
    create_household(roomy)
    with pytest.raises(TeamFull) as exc:
        service.create_household(db.session, None, team_id=full.id, data={"head_name": "李四"})
    db.session.rollback()
    message = exc.value.message
    assert full.name in message and roomy.name in message
    assert exc.value.fields["suggested_team_ids"][0] == _other.id  # emptiest first


def test_move_into_full_team_refused():
    tree = create_tree(grids=1, teams=2)
    full, other = tree["teams"]
    for _ in range(10):
        create_household(full)
    h = create_household(other)
    with pytest.raises(TeamFull):
        service.move_household(db.session, None, h.id, full.id)
    db.session.rollback()
    assert db.session.get(Household, h.id).team_id == other.id


def test_codes_follow_the_tree():
    tree = create_tree(grids=2, teams=2)
    h = create_household(tree["teams"][3])
    assert h.code == "HG-02-02-01"
    h2 = create_household(tree["teams"][3])
    assert h2.code == "HG-02-02-02"


def test_cap_holds_when_requests_race(app):
    """Twelve threads race to fill the last places of a team with 8 households."""
    tree = create_tree(grids=1, teams=1)
    team = tree["teams"][0]
    for _ in range(8):
        create_household(team)
    team_id = team.id
    barrier = threading.Barrier(12)
    outcomes: list[str] = []
    lock = threading.Lock()

    def add(i: int) -> None:
        with app.app_context():
            barrier.wait()
            try:
                service.create_household(
                    db.session, None, team_id=team_id, data={"head_name": f"抢{i}"}
                )
                db.session.commit()
                result = "ok"
            except TeamFull:
                db.session.rollback()
                result = "full"
            finally:
                db.session.remove()
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["full"] * 10 + ["ok"] * 2
    count = db.session.scalar(select(func.count(Household.id)).where(Household.team_id == team_id))
    assert count == 10
