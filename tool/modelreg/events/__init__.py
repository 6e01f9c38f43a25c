"""Events: what main's history did, typed, and their signed delivery to webhooks.

compute (typed events from main's first-parent history, one `Change` per commit, dated by the
registry's clock), record (what was delivered, kept in Git as authenticated notes), webhooks
(Standard Webhooks signing and delivery: the only user of standardwebhooks and of HTTP to
receivers). Uses core/ and store/ only; never the Registry.
"""
