"""The one scope function: a right on a unit is a right on everything under it."""

import pytest

from tests.factories import create_household, create_tree, create_unit, create_user
from village_grid.auth import scope
from village_grid.errors import Forbidden, OutOfScope
from village_grid.extensions import db


def test_rights_follow_the_tree():
    tree = create_tree(grids=2, teams=2)
    grid_a, grid_b = tree["grids"]
    team_a1, _a2, team_b1, _b2 = tree["teams"]
    cadre = create_user("cadre", tree["village"])
    grid_member = create_user("grid_member", grid_a)
    lead = create_user("team_lead", team_a1)
    admin = create_user("admin")

    assert scope.may(admin, "view", tree["township"])
    assert scope.may(cadre, "view", team_b1) and scope.may(cadre, "dispatch", team_b1)
    assert not scope.may(cadre, "view", tree["township"])
    assert scope.may(grid_member, "view", team_a1) and not scope.may(grid_member, "view", team_b1)
    assert not scope.may(grid_member, "view", grid_b)
    assert scope.may(lead, "view", team_a1) and scope.may(lead, "report_status", team_a1)
    assert not scope.may(lead, "edit_household", team_a1)
    assert not scope.may(lead, "view", grid_a)


def test_out_of_scope_is_not_found_and_in_scope_without_right_is_forbidden():
    tree = create_tree(grids=1, teams=2)
    team_a, team_b = tree["teams"]
    mine = create_household(team_a)
    theirs = create_household(team_b)
    lead = create_user("team_lead", team_a)
    assert scope.require_household(db.session, lead, mine.id) is mine
    with pytest.raises(OutOfScope):
        scope.require_household(db.session, lead, theirs.id)
    with pytest.raises(OutOfScope):
        scope.require_household(db.session, lead, 999999)
    with pytest.raises(Forbidden):
        scope.require_household(db.session, lead, mine.id, "edit_household")


def test_sibling_ids_with_shared_prefix_are_not_in_scope():
    """Unit 1's subtree must not include unit 10, 11...: paths end with '/'."""
    roots = [create_unit("township", f"t{i}") for i in range(12)]
    first = roots[0]
    user = create_user("cadre", first)
    for other in roots[1:]:
        assert not scope.may(user, "view", other), other.path
    visible = db.session.scalars(
        db.select(type(first)).where(scope.scope_clause(user, "view"))
    ).all()
    assert visible == [first]


def test_anonymous_sees_nothing():
    tree = create_tree(grids=1, teams=1)
    assert scope.scope_paths(None) == []
    assert not scope.may(None, "view", tree["village"])
