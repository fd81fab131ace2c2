"""Files made for download: exports and reports, made in the request when small and
by the worker when large, kept under ``FILES_DIR`` for ``FILES_KEEP_DAYS``, read only
by people whose scope covers what they hold, every download on the audit log.

- :mod:`.kinds`: what a kind of file is (name, who may read it, how it is planned and
  made); each domain registers its own.
- :mod:`.service`: asking for a file, making it (the worker calls :func:`.service.run`),
  reading and downloading it, expiry.
"""
