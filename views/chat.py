"""The chat screen: the conversation so far, the prompt box, the streamed reply."""

from chat import ui

settings = ui.settings_or_stop()
user = ui.current_user()
service = ui.chat_service(settings)

ui.demo_banner(settings)
prompt = ui.prompt_input()
sent = ui.send(prompt, user, service)
ui.draw_conversation(just_sent=sent)
