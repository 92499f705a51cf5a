"""Admin: usage per user, day and model; upstream errors; audited reads of any conversation."""

import streamlit as st

from chat.ops.reports import Reports
from chat.ui import admin as sections
from chat.ui.admin_reader import audit_reader
from chat.ui.admin_sso import sso_users
from chat.ui.resources import accounts as open_accounts
from chat.ui.resources import chat_service, settings_or_stop
from chat.ui.state import require_admin

st.set_page_config(layout="wide")  # the users table's columns and the charts need the width
settings = settings_or_stop()
admin = require_admin()  # a user gets nothing of this page, not even its title
service = chat_service(settings)
accounts = open_accounts(settings)
users_read = accounts.users_read()
reports = Reports.of(service)

st.title("Admin")
sections.broken_users_file(users_read)
st.subheader("Users")
rows = sections.users_table(reports, accounts, users_read)
if settings.sso_enabled:
    st.subheader("Single sign-on accounts")
    sso_users(accounts, admin)
st.subheader("Usage, last 30 days")
sections.usage_charts(reports)
st.subheader("Recent upstream errors")
sections.upstream_errors(reports)
st.subheader("Writes set aside")
sections.writes_set_aside(reports)
st.subheader("Read a conversation (audited)")
st.caption("Every conversation opened here is recorded in the audit log below, with your name and the time.")
audit_reader(reports, admin, [r.username for r in rows])  # removed users' conversations too
st.subheader("Audit log")
sections.audit_log(reports)
st.subheader("Managing users")
sections.managing_users()
