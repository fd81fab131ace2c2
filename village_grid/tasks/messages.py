"""What people are told about tasks: the dispatch notice to each team lead (or
whoever answers for the team), and the messages of cases climbing the tree.

Each function returns outbox rows for ``notify.enqueue_many`` (event key,
recipient, body, priority), worded in the default language: messages are read
long after the request that made them, often by a whole work group.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import networkx as nx
from flask import current_app
from flask_babel import format_datetime
from flask_babel import gettext as _

from village_grid.models import Household, Task, User
from village_grid.notify import service as notify
from village_grid.tasks import routing
from village_grid.tasks.graph import team_label
from village_grid.tasks.labels import HELP_LABELS, kind_label

# Team names listed in one dispatch message before "…".
TEAMS_NAMED = 10
# Households named per team in a message about teams not reached before "…".
HOUSEHOLDS_NAMED = 10


def translator() -> Callable[..., str]:
    """gettext that looks each message up once: dispatch words thousands of team
    decisions and messages from a handful of templates. (``tr`` is one of the
    extraction keywords in ``i18n.py``.)"""
    cache: dict[str, str] = {}

    def tr(message: str, **variables) -> str:
        template = cache.get(message)
        if template is None:
            template = cache[message] = _(message)
        return template % variables if variables else template

    return tr


def task_link(task_id: int) -> str:
    return f"{current_app.config['BASE_URL']}/tasks/{task_id}"


def escalations_link() -> str:
    return f"{current_app.config['BASE_URL']}/tasks/escalations"


def dispatch_messages(
    task: Task, decisions: dict[int, routing.Decision], per_team: dict[int, int], g: nx.DiGraph
) -> list[dict]:
    """One message per person told (all their teams in it), and one for teams nobody answers for."""
    by_person: dict[int | None, list[int]] = defaultdict(list)
    people: dict[int, routing.Person] = {}
    units: dict[int, int | None] = {}  # the unit each person answers for: their work group
    for team_id, d in decisions.items():
        key = d.assignee.id if d.assignee else None
        by_person[key].append(team_id)
        if d.assignee:
            people[d.assignee.id] = d.assignee
            units.setdefault(d.assignee.id, d.unit_id)
    deadline = (
        _("deadline %(t)s", t=format_datetime(task.deadline, "short")) if task.deadline else ""
    )
    tr = translator()
    kind = kind_label(task.kind, task.subkind)
    link = task_link(task.id)
    messages = []
    for uid, teams in by_person.items():
        names = [team_label(g, t) for t in sorted(teams)[:TEAMS_NAMED]]
        if len(teams) > TEAMS_NAMED:
            names.append("…")
        text = tr(
            "[%(kind)s] %(title)s — %(teams)s teams, %(households)s households: %(names)s. %(deadline)s %(link)s",
            kind=kind,
            title=task.title,
            teams=len(teams),
            households=sum(per_team[t] for t in teams),
            names=", ".join(names),
            deadline=deadline,
            link=link,
        )
        if task.body:
            text += "\n" + task.body[:1000]
        if uid is None:
            messages.append(
                {
                    "event_key": f"dispatch:{task.id}:nobody",
                    "recipient_id": None,
                    "unit_id": min(teams),  # the work group of these teams' village
                    "recipient_label": _("nobody on duty"),
                    "body": _("Nobody on duty for these teams!") + " " + text,
                }
            )
        else:
            p = people[uid]
            messages.append(
                {
                    "event_key": f"dispatch:{task.id}:user:{uid}",
                    "recipient_id": uid,
                    "unit_id": units[uid],
                    "recipient_label": p.name[:100],
                    "body": f"@{p.name} " + text,
                }
            )
    return messages


def _addressed(
    holder: User | None, holder_id: int | None, holder_name: str, text: str, key: str, priority: int
) -> dict:
    """An outbox row to ``holder`` (``holder_id`` None: nobody on duty, said so)."""
    name = (holder.display_name if holder is not None else holder_name) or _("nobody on duty")
    return {
        "event_key": key,
        "recipient_id": holder_id,
        "recipient_label": name[:100],
        "body": (f"@{name} " if holder_id else "") + text,
        "priority": priority,
    }


def _lead_text(g: nx.DiGraph, team_id: int) -> str:
    """The team's lead (or whoever answers for it) with their phone, or "no team lead"."""
    lead = routing.responsible_cached(g, team_id).assignee if team_id in g else None
    return " ".join(filter(None, (lead.name, lead.phone))) if lead else _("no team lead")


def help_message(
    task: Task,
    household: Household,
    g: nx.DiGraph,
    *,
    help_kind: str,
    holder: User | None,
    holder_id: int | None,
    key: str,
    holder_name: str = "",
) -> dict:
    """A call for help, to one person it reached (the team's lead, a level of its case)."""
    team_id = household.team_id
    kind = HELP_LABELS.get(help_kind or "other", help_kind)
    text = _(
        "[%(kind)s] %(title)s: household %(code)s %(name)s %(phone)s %(what)s. Team %(team)s, %(lead)s. %(link)s",
        kind=kind_label(task.kind, task.subkind),
        title=task.title,
        code=household.code,
        name=household.head_name,
        phone=household.phone,
        what=_("needs help (%(kind)s)", kind=str(kind)),
        team=team_label(g, team_id),
        lead=_lead_text(g, team_id),
        link=escalations_link(),
    )
    return _addressed(holder, holder_id, holder_name, text, key, notify.URGENT)


def overdue_message(
    task: Task,
    g: nx.DiGraph,
    *,
    level: int,
    holder: User | None,
    holder_id: int | None,
    teams: list[tuple[int, int, list[str]]],
    key: str,
) -> dict:
    """One message to one person for the teams of a task whose households were not all
    reached by the deadline and whose cases reached them at ``level``: each team with
    its lead and the households still pending (``teams``: team id, how many pending,
    "code name" of the first ones), up to :data:`TEAMS_NAMED` teams."""
    parts = []
    for team_id, pending, named in teams[:TEAMS_NAMED]:
        listed = ", ".join(named[:HOUSEHOLDS_NAMED]) + (" …" if pending > len(named) else "")
        parts.append(
            _(
                "%(team)s %(n)s households (%(list)s; team lead %(lead)s)",
                team=team_label(g, team_id),
                n=pending,
                list=listed,
                lead=_lead_text(g, team_id),
            )
        )
    if len(teams) > TEAMS_NAMED:
        parts.append("…")
    text = _(
        "[%(kind)s] %(title)s: %(teams)s teams with %(n)s households not reached by the deadline, passed on to you: %(list)s. %(link)s",
        kind=kind_label(task.kind, task.subkind),
        title=task.title,
        teams=len(teams),
        n=sum(p for _t, p, _n in teams),
        list="; ".join(parts),
        link=escalations_link(),
    )
    return _addressed(holder, holder_id, "", text, key, notify.SOON)


def unread_message(
    task: Task,
    g: nx.DiGraph,
    *,
    team_id: int,
    told: User | None,
    told_role: str,
    holder: User | None,
    holder_id: int | None,
    key: str,
) -> dict:
    """A notice the person told for a team (its lead, or whom routing fell back to) had
    not read by the deadline, to the person holding the case now."""
    text = _(
        "[%(kind)s] %(title)s: %(role)s %(name)s %(phone)s has not read it (deadline %(deadline)s). Team %(team)s. %(link)s",
        kind=kind_label(task.kind, task.subkind),
        title=task.title,
        role=routing.role_words(told_role or "team_lead", _),
        name=told.display_name if told else "",
        phone=(told.phone or "") if told else "",
        deadline=format_datetime(task.deadline, "short") if task.deadline else "",
        team=team_label(g, team_id),
        link=escalations_link(),
    )
    return _addressed(holder, holder_id, "", text, key, notify.SOON)


def silent_message(
    task: Task,
    g: nx.DiGraph,
    *,
    team_id: int,
    lead: User | None,
    pending: int,
    minutes: int,
    holder: User | None,
    holder_id: int | None,
    key: str,
) -> dict:
    """ "Call the lead": to the person holding a case about a silent team lead."""
    text = _(
        "[%(kind)s] %(title)s: team lead %(name)s %(phone)s has not been heard from for %(minutes)s min, %(pending)s households not confirmed. Please call them. Team %(team)s. %(link)s",
        kind=kind_label(task.kind, task.subkind),
        title=task.title,
        name=lead.display_name if lead else "",
        phone=(lead.phone or "") if lead else "",
        minutes=minutes,
        pending=pending,
        team=team_label(g, team_id),
        link=task_link(task.id),
    )
    return _addressed(holder, holder_id, "", text, key, notify.SOON)
