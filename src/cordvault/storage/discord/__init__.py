"""The Discord chunk backend's parts: locators, URL cache, packer, ledger and deleter.

The store itself is :class:`cordvault.storage.discord.backend.DiscordChunkStore`, built by
:func:`cordvault.storage.discord.backend.open_discord_store`. This package is imported only
when ``STORAGE_BACKEND=discord`` (see :mod:`cordvault.storage.factory`), so nothing is
re-exported here.
"""
