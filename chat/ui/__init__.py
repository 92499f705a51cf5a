"""The Streamlit side: the screens and their widgets, and Markdown made safe to show.

Never imports SQLAlchemy or openai: it talks to the service and the accounts, which own them.

- `resources`: the settings, the service and the accounts, cached for every session
- `state`: what one tab keeps between runs (the user, `ChatState`); `current_user`, `still_signed_in`
- `signin` and `cookie`: the login gate, the login and password forms, the sign-in cookie
- the chat screen: `navigation` (which conversation; the URL), `prompt` (the prompt box, sending),
  `conversation` (the messages and the live reply), `sidebar`, `settings_panel`
- `history` (the History screen), `admin_reader` (the admin's audited reader)
- `components` (the copy button), `markdown` (Markdown made safe to draw: no image reaches the renderer)
"""
