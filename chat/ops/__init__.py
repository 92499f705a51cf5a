"""Operations: what the command line runs, and the admin's read model.

Backup and restore, the purge, export and import, health checks, first-run set-up, users,
migrations, and the reports the admin page shows.
"""
