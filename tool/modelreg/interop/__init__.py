"""Outward adapters: the Hugging Face cache, KServe's storage initializer, MLflow.

Each sits on top of the registry's values (a resolved version and its verified folder) and
reaches git and the weights only through the modules that own them.
"""
