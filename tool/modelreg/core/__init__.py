"""The ground floor: what every other package uses, with no git, no network and no I/O
beyond reading the packaged schemas.

names (what a name may be), refs (NAME@ALIAS, NAME@N, NAME@latest), records (safe YAML in,
stable YAML out), schema and fastschema (JSON Schema, and a sound fast path before it),
settings (registry.yaml), layout (where records live), clock (when main said what),
lineage (the one parent walk), errors (one base class, a hint for the CLI), extras (which
optional extra brings a package). Nothing here imports another package of modelreg.
"""
