"""Search over your own messages; a result opens its conversation at that message."""

from chat.ui.history import history_page
from chat.ui.resources import chat_service, settings_or_stop
from chat.ui.state import current_user

settings = settings_or_stop()
user = current_user()
service = chat_service(settings)

history_page(user, service)
