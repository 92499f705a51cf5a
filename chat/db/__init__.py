"""The database: engine, tables, queries, search, quotas, the spool, retention, migrations (Alembic).

Never imports `chat.turns` or `chat.ui`.
"""
