"""The user pool's password rules, as its policy states them: shown on the page before they are broken, and
checked before the pool is asked, so that a weak password leaves the link as it was."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Letters and numbers count only from the basic Latin alphabet, as Cognito counts them. The characters Cognito
# counts as symbols (its password policy documentation), the space included.
SYMBOLS = "^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+- "
# Cognito accepts no longer password, and neither does this page.
MAX_PASSWORD_CHARS = 256
# Unicode categories Cognito's pattern does not take inside a password: control characters and line separators.
_CONTROL = {"Cc", "Zl", "Zp"}


@dataclass(frozen=True)
class PasswordRules:
    min_length: int = 8
    uppercase: bool = True
    lowercase: bool = True
    numbers: bool = True
    symbols: bool = True

    @classmethod
    def from_policy(cls, policy: Mapping[str, Any]) -> PasswordRules:
        """The rules of a pool's PasswordPolicy (DescribeUserPool's Policies.PasswordPolicy); Cognito's defaults
        for what it leaves out."""
        return cls(
            min_length=int(policy.get("MinimumLength", 8)),
            uppercase=bool(policy.get("RequireUppercase", True)),
            lowercase=bool(policy.get("RequireLowercase", True)),
            numbers=bool(policy.get("RequireNumbers", True)),
            symbols=bool(policy.get("RequireSymbols", True)),
        )

    def _needs(self) -> list[tuple[str, bool]]:
        return [
            ("an uppercase letter", self.uppercase),
            ("a lowercase letter", self.lowercase),
            ("a number", self.numbers),
            ("a symbol such as ! or %", self.symbols),
        ]

    def sentence(self) -> str:
        """The rules in one sentence, as the page shows them and a refusal repeats them."""
        needs = [what for what, required in self._needs() if required]
        text = f"A password has at least {self.min_length} characters"
        if needs:
            text += ", with " + (", ".join(needs[:-1]) + " and " + needs[-1] if len(needs) > 1 else needs[0])
        return text + ", and no space at its start or end."

    def refusal(self) -> str:
        """What a refused password is told, the rules included, in one sentence."""
        rules = self.sentence()
        return f"This password is not accepted: {rules[0].lower()}{rules[1:]}"

    def allows(self, password: str) -> bool:
        """Whether the pool's policy accepts `password` (the pool still has the last word)."""
        if not self.min_length <= len(password) <= MAX_PASSWORD_CHARS or not _shape_allowed(password):
            return False
        present = {
            "an uppercase letter": any("A" <= c <= "Z" for c in password),
            "a lowercase letter": any("a" <= c <= "z" for c in password),
            "a number": any("0" <= c <= "9" for c in password),
            "a symbol such as ! or %": any(c in SYMBOLS for c in password),
        }
        return all(present[what] for what, required in self._needs() if required)


def _shape_allowed(password: str) -> bool:
    """Cognito's own pattern for a password (`^[\\S]+.*[\\S]+$`): no white space of any kind at either end (a tab,
    a line break, a no-break space: strip() knows them all), and no line break or control character anywhere, which
    its `.` does not match. The pool would refuse these with an error that is not a password rule."""
    return password == password.strip() and not any(unicodedata.category(c) in _CONTROL for c in password)
