"""The whole local stack on regtest, for development: ``marketplace dev`` (``stack``), paying an
order from the demo buyer's wallet (``pay``: ``marketplace dev pay`` and the dev-only page route in
``views``)."""
