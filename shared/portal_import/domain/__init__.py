"""The rules and values of an import, pure: no I/O, no boto3 or botocore, no Powertools.

What a file says, what a row may be, what a job and an email ledger entry are, what the notices read. Every other
layer builds on these; they import nothing but each other (tests/unit/test_architecture.py keeps it so)."""
