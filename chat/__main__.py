"""`python -m chat <command>`: Parley's command line (chat/cli.py)."""

from chat.cli import main

main()
