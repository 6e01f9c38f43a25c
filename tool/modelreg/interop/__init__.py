"""Outward adapters: MLflow, the Hugging Face cache and Hub cards, KServe's storage initializer.

mlflow_import (`modelreg import mlflow`) and mlflow_store (the `modelreg:` registry store
plugin) are the only MLflow users; hf_cache lays a version out in the hub cache; hf_card
exports a model card for the Hub; kserve fills a folder from `modelreg://...`. Each sits on
top of the registry's values (a resolved version, its snapshot, its verified folder) and
reaches git and the weights only through the modules that own them.
"""
