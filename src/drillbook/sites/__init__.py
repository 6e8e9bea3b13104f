"""Site workers: drills run near their repositories, one schedule, ledger and report centrally.

- :mod:`~drillbook.sites.celeryapp`: the one module that imports Celery (broker, queues, task, inspect);
- :mod:`~drillbook.sites.worker`: what a worker does with a dispatched run (the engine, as ``run`` does);
- :mod:`~drillbook.sites.intake`: the run folder's transfer format, and the check of a folder coming back;
- :mod:`~drillbook.sites.outbox`: the central side's own list of dispatched runs, in the state folder;
- :mod:`~drillbook.sites.central`: dispatching, watching, receiving, writing and sealing.
"""
