"""One module per paper experiment; each follows the protocol of :mod:`lazyrich.sims` (``NAME``, ``Config``,
``default_config``, ``run``). They are discovered automatically by :func:`lazyrich.sims.experiments_registry`.
"""
