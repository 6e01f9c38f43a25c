"""Fleets: the signed alias feed serving hosts follow (feed), its Ed25519 keys (signing), and
the records of what each host loaded (deployments), all on the weights remote. Takes values
(a Snapshot, a RemoteConfig, a store), never the Registry."""
