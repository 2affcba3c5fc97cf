"""`portal-import`, the administrator's command: submit a file, follow its job, fetch its results, list jobs, resend
activation links, write the sample CSV and load a new stack's directory, against a deployed stack or `local serve`
(through --endpoint-url). `local run` and `local serve` come from the local runtime, portal-user-import[local]."""

import os

# The shared modules log through one Powertools Logger, which takes its service name from the environment when it is
# created: on the first import of portal_import.observability, which this package's modules (and the local runtime's
# functions) make. Lambda sets the variable before the code loads; here it is set first, as template.yaml's Globals
# name it.
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "portal-user-import")
