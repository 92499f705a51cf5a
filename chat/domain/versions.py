"""Versions: the attempts a regenerate or an edit leaves beside a message, and which one is shown.

A conversation in the log is a tree. A prompt's parent is the message before it (a reply, or
nothing for the first prompt); a reply's parent is its prompt. Messages with the same parent and
role are versions of one another ("2 / 3" on the page). The current branch is one path from the
first prompt down, the messages whose `superseded` is false, so every reader of the branch (the
requests, search, exports, quotas) reads one flag. A child is always written after its parent, so
the branch in id order is the path in order.

Choosing a version (`switch`) takes the current one and everything below it off the branch and
puts the chosen one on, with the path below it that was shown when it was last on the branch:
at each step down, the child chosen or written most recently (`Node.rank`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Node:
    """One message of a conversation, as much as its versions need."""

    id: int
    parent: int | None
    role: str  # "user" or "assistant"
    current: bool  # on the branch shown (`superseded` false in the log)
    rank: datetime | None = None  # when it was last chosen, else written: the newest wins a step down


@dataclass(frozen=True)
class Place:
    """Where a turn's prompt and reply sit in the tree; nothing for a turn the log refused."""

    prompt_id: int | None = None
    prompt_versions: tuple[int, ...] = ()
    reply_versions: tuple[int, ...] = ()


def versions(nodes: Iterable[Node]) -> dict[int, tuple[int, ...]]:
    """Every message's versions (its own id among them), oldest first."""
    groups: dict[tuple[int | None, str], list[int]] = defaultdict(list)
    for node in nodes:
        groups[node.parent, node.role].append(node.id)
    return {member: tuple(sorted(group)) for group in groups.values() for member in group}


class NotOnBranch(ValueError):
    """The version chosen is of a message no longer on the branch shown (another tab moved it)."""


def switch(nodes: Sequence[Node], chosen: int) -> tuple[list[int], list[int]]:
    """What choosing the version `chosen` changes: the ids that leave the branch and those that
    join it, each in order. Nothing changes for a version already shown."""
    by_id = {node.id: node for node in nodes}
    target = by_id[chosen]
    if target.current:
        return [], []
    shown = next(
        (n for n in nodes if n.current and n.parent == target.parent and n.role == target.role),
        None,
    )
    if shown is None:
        raise NotOnBranch(chosen)
    leaving = sorted(n.id for n in nodes if n.current and n.id >= shown.id)
    children: dict[int | None, list[Node]] = defaultdict(list)
    for node in nodes:
        children[node.parent].append(node)
    joining, node = [target.id], target
    while children[node.id]:
        node = max(children[node.id], key=_newest)
        joining.append(node.id)
    return leaving, joining


def _newest(node: Node) -> tuple[datetime, int]:
    return (node.rank or datetime.min, node.id)


def parents_from_order(messages: Sequence[tuple[int, str, bool]]) -> dict[int, int | None]:
    """The parents of a conversation's messages written before the log kept them (a database
    before migration 0005, an export without them), from their order alone.

    `messages`: (id, role, superseded) in id order. Before versions, a regenerate superseded the
    replies after the last prompt and an edit the last prompt with them; neither reached further
    back. So the branch is every message not superseded, a superseded prompt's parent is the
    branch's last message before it, and a superseded reply's is the prompt just before it."""
    parents: dict[int, int | None] = {}
    branch_end: int | None = None  # the last message not superseded so far
    last_prompt: int | None = None
    for id_, role, superseded in messages:
        if not superseded or role == "user":
            parents[id_] = branch_end
        else:
            parents[id_] = last_prompt if last_prompt is not None else branch_end
        if role == "user":
            last_prompt = id_
        if not superseded:
            branch_end = id_
    return parents
