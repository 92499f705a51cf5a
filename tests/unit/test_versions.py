"""The tree of versions (chat/domain/versions.py): groups, switching, and parents from old logs."""

from __future__ import annotations

from datetime import datetime

import pytest

from chat.domain.versions import Node, NotOnBranch, parents_from_order, switch, versions

T = datetime(2026, 12, 1)


def at(minute: int) -> datetime:
    return T.replace(minute=minute)


# p1 ─ r1 ─ p2 ─ r2          (shown)
#    │       └─ r2b (chosen at :30, after r2 was written at :10)
#    └ r1b
TREE = [
    Node(1, None, "user", True, at(0)),
    Node(2, 1, "assistant", True, at(1)),
    Node(3, 2, "user", True, at(2)),
    Node(4, 3, "assistant", False, at(10)),
    Node(5, 1, "assistant", False, at(5)),
    Node(6, 3, "assistant", True, at(30)),
]


def test_versions_are_the_messages_of_one_parent_and_role_oldest_first() -> None:
    found = versions(TREE)
    assert found[2] == found[5] == (2, 5)
    assert found[4] == found[6] == (4, 6)
    assert found[1] == (1,) and found[3] == (3,)


def test_switching_takes_the_shown_version_and_all_below_it_off_and_the_last_path_on() -> None:
    assert switch(TREE, 4) == ([6], [4])
    assert switch(TREE, 5) == ([2, 3, 6], [5])
    assert switch(TREE, 6) == ([], [])  # already shown


def test_a_step_down_takes_the_child_chosen_or_written_last() -> None:
    moved = [Node(n.id, n.parent, n.role, n.id in (1, 5), n.rank) for n in TREE]  # r1b shown
    assert switch(moved, 2) == ([5], [2, 3, 6])  # r2b: chosen after r2 was written


def test_a_version_whose_parent_is_off_the_branch_cannot_be_chosen() -> None:
    moved = [Node(n.id, n.parent, n.role, n.id in (1, 5), n.rank) for n in TREE]
    with pytest.raises(NotOnBranch):
        switch(moved, 4)


def test_parents_from_the_order_of_a_log_before_versions() -> None:
    # p1, r1 (regenerated), r1b, p2 (edited), r2, p2b, r2b, p3
    log = [(1, "user", False), (2, "assistant", True), (3, "assistant", False), (4, "user", True)]
    log += [(5, "assistant", True), (6, "user", False), (7, "assistant", False), (8, "user", False)]
    assert parents_from_order(log) == {1: None, 2: 1, 3: 1, 4: 3, 5: 4, 6: 3, 7: 6, 8: 7}


def test_parents_from_order_make_one_path_of_a_log_without_replies_between() -> None:
    assert parents_from_order([(1, "user", False), (2, "user", False), (3, "assistant", False)]) == {
        1: None,
        2: 1,
        3: 2,
    }
