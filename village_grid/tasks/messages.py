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

from village_grid.models import Escalation, Household, Task
from village_grid.notify import service as notify
from village_grid.tasks import routing
from village_grid.tasks.graph import team_label
from village_grid.tasks.labels import HELP_LABELS, kind_label

# Team names listed in one dispatch message before "…".
TEAMS_NAMED = 10
# Households named in one message about overdue households before "…".
HOUSEHOLDS_NAMED = 20


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
    for team_id, d in decisions.items():
        key = d.assignee.id if d.assignee else None
        by_person[key].append(team_id)
        if d.assignee:
            people[d.assignee.id] = d.assignee
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
                    "recipient_label": p.name[:100],
                    "body": f"@{p.name} " + text,
                }
            )
    return messages


def case_message(
    esc: Escalation,
    task: Task,
    household: Household,
    g: nx.DiGraph,
    *,
    help_kind: str,
    assignee_name: str,
    key: str,
) -> dict:
    """The message of one case about one household (a call for help, or overdue)
    to the person holding it now (``assignee_name``: "" when nobody is on duty)."""
    team_id = household.team_id
    team_name = team_label(g, team_id)
    lead = routing.responsible(g, team_id).assignee if team_id in g else None
    lead_text = " ".join(filter(None, (lead.name, lead.phone))) if lead else _("no team lead")
    if esc.reason == "needs_help":
        kind = HELP_LABELS.get(help_kind or "other", help_kind)
        what = _("needs help (%(kind)s)", kind=str(kind))
    else:
        what = _("not reached by the deadline")
    text = _(
        "[%(kind)s] %(title)s: household %(code)s %(name)s %(phone)s %(what)s. Team %(team)s, %(lead)s. %(link)s",
        kind=kind_label(task.kind, task.subkind),
        title=task.title,
        code=household.code,
        name=household.head_name,
        phone=household.phone,
        what=what,
        team=team_name,
        lead=lead_text,
        link=escalations_link(),
    )
    name = assignee_name or _("nobody on duty")
    return {
        "event_key": key,
        "recipient_id": esc.assignee_id,
        "recipient_label": name[:100],
        "body": (f"@{name} " if esc.assignee_id else "") + text,
        "priority": notify.URGENT if esc.reason == "needs_help" else notify.SOON,
    }


def overdue_message(
    task: Task,
    *,
    level: int,
    assignee_id: int | None,
    assignee_name: str,
    count: int,
    named: list[str],
    key: str,
) -> dict:
    """One message listing the households of a task still unreached past the deadline
    that climbed to one person at one level."""
    name = assignee_name or _("nobody on duty")
    text = _(
        "[%(kind)s] %(title)s: %(n)s households not reached by the deadline, passed on to you: %(list)s. %(link)s",
        kind=kind_label(task.kind, task.subkind),
        title=task.title,
        n=count,
        list=", ".join(named) + (" …" if count > len(named) else ""),
        link=escalations_link(),
    )
    return {
        "event_key": key,
        "recipient_id": assignee_id,
        "recipient_label": name[:100],
        "body": (f"@{name} " if assignee_id else "") + text,
        "priority": notify.SOON,
    }


def unread_message(
    task: Task,
    g: nx.DiGraph,
    *,
    team_id: int,
    told_name: str,
    told_phone: str,
    told_role: str,
    assignee_id: int | None,
    assignee_name: str,
    key: str,
) -> dict:
    """The message of one case about a notice the person told for a team (its lead,
    or whom routing fell back to) had not read by the deadline, to the person
    holding the case now (``assignee_name``: "" when nobody is on duty)."""
    team = g.nodes[team_id] if team_id in g else None
    grid = g.nodes[team["parent"]] if team is not None and team["parent"] in g else None
    where = " ".join(n for n in (grid["name"] if grid else "", team["name"] if team else "") if n)
    text = _(
        "[%(kind)s] %(title)s: %(role)s %(name)s %(phone)s has not read it (deadline %(deadline)s). Team %(team)s. %(link)s",
        kind=kind_label(task.kind, task.subkind),
        title=task.title,
        role=routing.role_words(told_role or "team_lead", _),
        name=told_name,
        phone=told_phone,
        deadline=format_datetime(task.deadline, "short") if task.deadline else "",
        team=where,
        link=escalations_link(),
    )
    name = assignee_name or _("nobody on duty")
    return {
        "event_key": key,
        "recipient_id": assignee_id,
        "recipient_label": name[:100],
        "body": (f"@{name} " if assignee_id else "") + text,
        "priority": notify.SOON,
    }
