"""The Streamlit side: the screens and their widgets, and Markdown made safe to show.

Never imports SQLAlchemy or openai: it talks to the service and the accounts, which own them.
"""
