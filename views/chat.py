"""The chat screen: the sidebar and the options (full runs only), the conversation as
fragments, its earlier messages and a slot per turn since (`chat/ui/chat_area.py`), and the
prompt box."""

from chat.ui.chat_area import chat_turns, earlier_messages
from chat.ui.conversation import demo_banner
from chat.ui.navigation import follow_url
from chat.ui.prompt import prompt_input
from chat.ui.resources import chat_service, settings_or_stop
from chat.ui.settings_panel import options_panel
from chat.ui.sidebar import conversation_sidebar
from chat.ui.state import chat_state, current_user
from chat.ui.welcome import welcome

settings = settings_or_stop()
user = current_user()
service = chat_service(settings)

chat = chat_state()
follow_url(chat, user, service)
conversation_sidebar(chat, user, service)
demo_banner(settings)
options_panel(chat, user, service)
prompt_input(chat, settings)  # pinned to the bottom by Streamlit (drawn first: a run may stream); reruns turns' slots
welcome(chat, user)  # a new chat's greeting and suggested prompts
earlier_messages(settings)
chat_turns(settings)
