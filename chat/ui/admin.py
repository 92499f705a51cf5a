"""The admin page's sections: users and their quotas, usage charts, upstream errors, writes set
aside, the audit log and how users are managed. Each draws from the admin's read model
(chat/ops/reports.py); the audited reader is `chat/ui/admin_reader.py`."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from chat.accounts.auth import Accounts
from chat.accounts.authfile import UsersRead
from chat.accounts.sso import SsoAdmin
from chat.domain.dates import zone
from chat.domain.times import as_utc
from chat.ops.reports import Reports, UserReport
from chat.ui.markdown import plain
from chat.ui.wording import format_cost, local_time


def broken_users_file(users_read: UsersRead) -> None:
    """Say that the users file is broken while the last good copy is in use."""
    if users_read.problem is None or users_read.good_since is None:
        return
    st.warning(
        f"The users file is broken, so Parley goes by the last good copy it read "
        f"(at {users_read.good_since:%Y-%m-%d %H:%M} UTC): nobody is signed out, and edits count once it is fixed.",
        icon=":material/warning:",
    )
    st.text(users_read.problem)  # plain text: the reason quotes names from the file


def _limit(used: int, allowed: int | None) -> str:
    return f"{used:,} / {allowed:,}" if allowed else f"{used:,} / no limit"


def _roles(username: str, users_read: UsersRead, sso: dict[str, str]) -> str:
    if username in users_read.users:
        return ", ".join(users_read.users[username].roles)
    return f"{sso[username]} (single sign-on)" if username in sso else "(removed)"


def users_table(reports: Reports, accounts: Accounts, users_read: UsersRead) -> list[UserReport]:
    """Every user with their activity and quota use; returns the rows (removed users included)."""
    users = users_read.users
    sso = {a.username: a.role for a in SsoAdmin(accounts.database).accounts() if a.username not in users}
    quotas = {name: accounts.quota(user) for name, user in users.items()}
    quotas |= {name: accounts.default_quota() for name in sso}
    rows = reports.users([*users, *sso])
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "User": r.username,
                    "Roles": _roles(r.username, users_read, sso),
                    "Last activity": as_utc(r.last_activity) if r.last_activity is not None else None,
                    "Conversations": r.conversations,
                    "Messages": r.messages,
                    "Tokens": r.tokens,
                    "Cost": format_cost(r.cost_usd) if r.cost_usd is not None else "unknown",
                    "Messages, last minute": _limit(
                        r.usage.messages_last_minute, getattr(quotas.get(r.username), "messages_per_minute", None)
                    ),
                    "Tokens, last 24 h": _limit(
                        r.usage.tokens_last_day, getattr(quotas.get(r.username), "tokens_per_day", None)
                    ),
                }
                for r in rows
            ]
        ),
        hide_index=True,
        width="stretch",
        column_config={
            "Last activity": st.column_config.DatetimeColumn(
                format="distance", timezone=_zone_name(), help="How long ago"
            ),
            "Tokens": st.column_config.NumberColumn(format="localized"),
            "Messages, last minute": st.column_config.TextColumn(help="Messages sent in the last minute / the quota"),
            "Tokens, last 24 h": st.column_config.TextColumn(help="Tokens used in the last 24 hours / the quota"),
        },
    )
    return rows


MEASURES = {"messages": "Messages", "tokens": "Tokens", "cost_usd": "Cost (USD)"}


def usage_charts(reports: Reports) -> None:
    """Messages, tokens or cost of the last 30 days, per day, user or model."""
    daily = pd.DataFrame([vars(d) for d in reports.daily()])
    if daily.empty:
        st.caption("No messages yet.")
        return
    measure = (
        st.segmented_control("Measure", list(MEASURES), default="messages", format_func=MEASURES.__getitem__)
        or "messages"  # clicking the chosen option again deselects it
    )
    # Days as text ("2026-11-30", in order): a time axis would draw one day's bar a hairline wide.
    daily["day"] = daily["day"].map(str)
    for tab, by in zip(st.tabs(["Per day", "Per user", "Per model"]), ["day", "username", "model"], strict=True):
        with tab:
            if by == "day":
                chart = daily.pivot_table(index="day", columns="username", values=measure, aggfunc="sum", fill_value=0)
            else:
                chart = daily.groupby(by)[measure].sum()
            st.bar_chart(chart, x_label=by.replace("username", "user").capitalize(), y_label=MEASURES[measure])


def upstream_errors(reports: Reports) -> None:
    """The model server's recent refusals and failures, each message whole (a table wraps it). A
    table renders Markdown: every cell is the server's or a user's text, so each is drawn plain."""
    failures = reports.failures()
    if not failures:
        st.caption("None.")
        return
    where = zone(st.context.timezone)
    rows = [
        {
            "When": local_time(f.at, where),
            "User": plain(f.username),
            "Model": plain(f.model),
            "Kind": plain(f.kind),
            "Message": plain(f.message),
        }
        for f in failures
    ]
    st.table(pd.DataFrame(rows).set_index("When"))


def _zone_name() -> str:
    """The reader's IANA time zone (the browser's), or UTC."""
    return str(zone(st.context.timezone))


def writes_set_aside(reports: Reports) -> None:
    """Spooled records the log refused for good: where they are kept and what each was."""
    quarantine = reports.quarantine()
    if quarantine is None or not quarantine.records:
        st.caption("None: every turn the conversation log refused for a while has reached it.")
        return
    count = len(quarantine.records)
    st.warning(
        f"The conversation log refused {count} spooled record{'s' if count != 1 else ''} for a reason retrying "
        "will not cure. Each is kept, with its text, in the file below (mode 0600) and left out of the log, "
        "search, exports and quotas; the turns behind it were written. Fix the cause, then append a record's "
        "`record` value as one line to the spool file to have it written, or leave it there."
    )
    st.code(str(quarantine.path), language=None)
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Set aside (UTC)": r.at,
                    "Why": r.reason,
                    "What": r.what,
                    "User": r.username,
                    "Conversation": r.conversation_id,
                    "Record": r.record_id,
                }
                for r in quarantine.records
            ]
        ),
        hide_index=True,
    )


def audit_log(reports: Reports) -> None:
    events = reports.audit_log()
    if events:
        st.dataframe(
            pd.DataFrame(
                [{"When": as_utc(e.at), "Admin": e.actor, "Action": e.action, "Target": e.target} for e in events]
            ),
            hide_index=True,
            width="stretch",
            column_config={"When": st.column_config.DatetimeColumn(format="D MMM YYYY, HH:mm", timezone=_zone_name())},
        )
    else:
        st.caption("No conversation has been read here yet.")


def managing_users() -> None:
    st.caption("Users live in auth.yaml, changed only by the CLI (in the container too: `make shell`).")
    st.code(
        "python -m chat users list\n"
        "python -m chat users add alice [--role admin] [--generate-password]\n"
        "python -m chat users passwd alice\n"
        "python -m chat users remove alice\n"
        "python -m chat users quota alice --messages-per-minute 60 --tokens-per-day 2000000",
        language="bash",
    )
