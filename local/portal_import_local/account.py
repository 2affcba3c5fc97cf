"""Where the embedded AWS is: one account and one Region for the stack, the functions and every client of it."""

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
