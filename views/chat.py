"""The chat screen: the conversation so far, the prompt box, the streamed reply."""

from chat.ui import pages as ui

settings = ui.settings_or_stop()
user = ui.current_user()
service = ui.chat_service(settings)

chat = ui.chat_state()
ui.follow_url(chat, user, service)
prompt = ui.prompt_input(chat)
sent = ui.send(chat, prompt, user, service)
ui.sync_url(chat)
usage = ui.conversation_sidebar(chat, user, service)
ui.demo_banner(settings)
ui.options_panel(chat, user, service)
ui.draw_conversation(chat, user, service, just_sent=sent)
ui.show_usage(usage, chat)
