"""Supply-chain trust: signatures (OpenSSF Model Signing), the weight-format policy, and the
AI bill of materials (CycloneDX 1.6).

Each module imports its outside library (model_signing, picklescan, cyclonedx) inside the
functions that need it, so read-only commands that never sign or scan stay fast.
"""
