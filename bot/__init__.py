"""The Telegram bot: a photo in, its hashtags out, votes back into the store.

The desktop app imports :mod:`bot.runner` only; handlers, the engine service and
the token helpers stay behind it.
"""
