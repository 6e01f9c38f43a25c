"""From `name@alias` to a model on a device, and keeping it current.

loader (`load`, `load_adapters`, `unload`: the only torch/transformers/peft user), checks
(torch-free rules on records and files, shared with `check`; `LocalFiles`), weights (a
resolved version -> Located -> Plan -> verified folder: pull, verify, check --remote, doctor),
lockfile (models.lock), sources (a registry by path or URL, as a cached blobless clone),
serving (`ServingManager`: hot reload when an alias moves). The loader and serving are front
doors like `registry.py`: they open a registry, resolve once and pass values on.
"""
