"""The sample CSV template administrators start from (`portal-import template`, the console's "Download sample CSV
template"): the two columns, and one row with each form of Contact ID the stack takes."""

SAMPLE_CSV = "ContactId,Role\n003Sw050SbYxr5d0001,Partner User\n003hJSKw7VyTadp,Customer\n"
