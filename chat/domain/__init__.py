"""The domain: what a conversation is, whatever stores or shows it.

Message records, reply statuses, token counting and the context budget, reasoning, storable
text. Imports nothing of Parley's but `chat.errors`.
"""
