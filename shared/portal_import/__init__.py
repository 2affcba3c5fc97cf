"""Serverless bulk import of portal users from CSV files dropped into S3."""
