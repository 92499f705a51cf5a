"""The domain: what a conversation is, whatever stores or shows it.

Message records, reply statuses, conversation options, token counting and the request planned
to the context budget, reasoning, storable text. Imports nothing of Parley's but `chat.errors`.
"""
