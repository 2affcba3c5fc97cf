"""The local runtime: the stack of template.yaml on an embedded moto, with events delivered as AWS would. It adds
`local run` and `local serve` to the operator CLI (portal_import_cli), and needs the `local` extra (moto, SAM's
translator)."""

# Before any shared module: importing the operator CLI's package sets the service name the functions' shared
# Powertools Logger takes when it is created.
import portal_import_cli  # noqa: F401
