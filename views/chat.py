"""The chat screen: the conversation so far, the prompt box, the streamed reply."""

from chat.ui.conversation import demo_banner, draw_conversation
from chat.ui.navigation import follow_url, sync_url
from chat.ui.prompt import prompt_input, send
from chat.ui.resources import chat_service, settings_or_stop
from chat.ui.settings_panel import options_panel
from chat.ui.sidebar import conversation_sidebar, show_usage
from chat.ui.state import chat_state, current_user

settings = settings_or_stop()
user = current_user()
service = chat_service(settings)

chat = chat_state()
follow_url(chat, user, service)
prompt = prompt_input(chat)
send(chat, prompt, user, service)
sync_url(chat)
usage = conversation_sidebar(chat, user, service)
demo_banner(settings)
options_panel(chat, user, service)
draw_conversation(chat, user, service)
show_usage(usage, chat)
