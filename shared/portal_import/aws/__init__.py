"""Thin adapters over boto3: the only modules of the project that talk to AWS."""
