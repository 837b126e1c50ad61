"""Thumbnails and previews of drive files (images, videos, PDFs).

- :mod:`.models`: the ``drive_previews`` table; :mod:`.repository`: its SQL.
- :mod:`.service`: find work, make one file's thumbnails (decrypt to a private temp file, run
  :mod:`.render` in a limited child process, encrypt the result through the chunk store),
  serve them, sweep those of deleted files.
- :mod:`.render`: the child process (Pillow, PyAV, pypdfium2) under memory/CPU/time limits.
- :mod:`.queue`: where runs happen, on the job framework shared with insights (worker threads
  here by default, ``cordvault worker`` processes through Celery with ``BROKER_URL``).

Kept import-light: the renderer child imports this package.
"""
