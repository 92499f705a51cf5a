"""Accounts: the users file, sign-in sessions, the sign-in throttle, the client address.

No Streamlit and no HTTP here: `chat.ui` draws the forms.
"""
