"""The Discord chunk backend's parts: locators, URL cache, packer, ledger and deleter.

The store itself is :class:`cordvault.storage.discord_backend.DiscordChunkStore`.
"""
