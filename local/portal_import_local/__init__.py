"""The local runtime: the stack of template.yaml on an embedded moto, with events delivered as AWS would."""

import os

# The functions share one Powertools Logger, which takes its service name from the environment when it is created:
# on the first import of portal_import.observability, which this package's modules make before any function runs.
# Lambda sets the variable before the code loads; here it is set first, as template.yaml's Globals name it.
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "portal-user-import")
