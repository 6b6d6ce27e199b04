"""Running the Telegram bot as a service: health (/healthz, /readyz), Prometheus metrics
(/metrics), and log lines a log pipeline can parse (text or JSON).

metrics (the counters, histograms and index gauges of one bot), health (what /readyz asks,
and the heartbeat that keeps "the Bot API answered lately" true when nothing else is sent),
http (the three endpoints, on the webhook server or on a listener of their own), logs.
Imports bot.config and bot.telegram.secrets; the Telegram front end imports this package.
"""
