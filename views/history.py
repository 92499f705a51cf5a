"""Search over your own messages; a result opens its conversation at that message."""

from chat.ui import pages as ui

settings = ui.settings_or_stop()
user = ui.current_user()
service = ui.chat_service(settings)

ui.history_page(user, service)
