"""Followed topics: /follow, /following, /unfollow in any chat, and the new articles pushed to
the chats whose topics they match.

- store: the subscriptions and what was pushed (SQLite in the cache folder);
- pushes: a reload's new articles matched against every topic (retrieval.follow), the messages
  to send, at most so many per chat and hour;
- chat: the commands as a ChatSession offers them (console and Telegram alike).
"""
