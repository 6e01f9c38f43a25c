"""Weights, never Git or the Registry: plans, stores and the content-addressed cache.

dvc (the only DVC user, and DVC's file formats), config (a remote's configuration, read
without DVC), remote (opens the store for a remote), objstore (S3, GCS and Azure Blob Storage
through obstore, its only user), s3 (the only botocore user: AWS profiles for objstore), local
(a folder remote), push (hash once, track as DVC does, upload), pull (`Plan`, `fetch`), download
(one object written in place, hashed in order behind, resumed), cache, hashing, verify, doctor,
files (scanning a folder), secrets (credentials in tracked files), progress (the callback
protocol the CLI fills). Imports core/ only; takes plain data from loading/weights.py.
"""
