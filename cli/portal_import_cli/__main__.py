"""`python -m portal_import_cli`: the same as `portal-import`."""

from portal_import_cli.main import entry_point

if __name__ == "__main__":
    entry_point()
