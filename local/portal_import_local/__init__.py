"""The local runtime: the stack of template.yaml on an embedded moto, with events delivered as AWS would."""
