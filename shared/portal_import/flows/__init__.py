"""The use cases, one module each: split a file, work a chunk, sweep, send the activation emails, resend,
aggregate the results, activate an account, list a job's users.

Each decides what to do and talks to the world only through portal_import.ports: portal_import.wiring hands it
the AWS adapters, unit tests hand it in-memory fakes."""
