"""Forges modelreg opens pull requests on. GitHub is the one there is (forge/github.py)."""
