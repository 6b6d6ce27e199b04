"""The Telegram front end (`python -m bot telegram`), a room per concern:

- app: the Application, its start and stop (polling or webhook), `run_telegram`;
- handlers: updates turned into ChatSession calls (bot.session), run off the event loop;
- addressing: who a message is for (commands, @mentions, replies) and what it asks;
- paging: a Reply sent as messages, its "More" button and that button's presses;
- store: which page each "More" button shows next;
- guards, limits: the allowlists, questions per user, the flood limit;
- secrets: the token and webhook secret, and their redaction from every log line;
- sending: one message, a button's note, "typing…", network retries;
- html: Telegram HTML cut to a message's size;
- services: what the handlers share, and each chat's session;
- webhook: the webhook endpoint (secret checked before the body is read);
- following: /follow, /following, /unfollow and the Pusher of new articles (bot.follow);
- inline: `@bot question` in any chat (inline mode);
- uploads: admins' documents, /add and /remove (bot.uploads).

Its health, metrics and JSON logs (`/healthz`, `/readyz`, `/metrics`) are in bot.ops.
"""
