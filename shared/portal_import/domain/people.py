"""Contacts, the portal users made for them (the directory's and the pool's), and their activation links: the
records the flows exchange with the directory, the user pool and the activation store."""

from __future__ import annotations

from dataclasses import dataclass

from portal_import.domain.messages import EmailRecipient
from portal_import.domain.names import clean_name


@dataclass(frozen=True)
class PoolUser:
    """What a portal user is in the pool: its username (the UserId) and the attributes the import gives it."""

    user_id: str
    contact_id: str
    email: str = ""
    first_name: str = ""
    last_name: str = ""


@dataclass(frozen=True)
class Contact:
    """A Contact of the directory. Its names are cleaned as it is made (portal_import.domain.names), so every reader
    (the pool user's attributes, the activation email, the activation page) gets them as people may read them."""

    contact_id: str
    salesforce_id: str = ""
    email: str = ""
    first_name: str = ""
    last_name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "first_name", clean_name(self.first_name))
        object.__setattr__(self, "last_name", clean_name(self.last_name))

    def pool_user(self, user_id: str) -> PoolUser:
        """This Contact's portal user `user_id` as the user pool holds it."""
        return PoolUser(
            user_id=user_id,
            contact_id=self.contact_id,
            email=self.email,
            first_name=self.first_name,
            last_name=self.last_name,
        )

    def recipient(self, row: int, user_id: str) -> EmailRecipient:
        """The activation email of this Contact's user `user_id` (created from `row`), as a reference: the sender
        reads the address and name from the directory."""
        return EmailRecipient(row=row, user_id=user_id, contact_id=self.contact_id)


@dataclass(frozen=True)
class PortalUser:
    contact_id: str
    user_id: str
    role: str
    job_id: str = ""
    row: int = 0
    created_at: str = ""


@dataclass(frozen=True)
class CreateResult:
    created: list[PortalUser]
    existing: dict[str, PortalUser]  # contact id -> the user that was already there


@dataclass(frozen=True)
class Activation:
    """A User's current set-password link: only the token's SHA-256 hash is kept, with the link's expiry."""

    contact_id: str
    user_id: str
    token_hash: str
    expires_at: str


@dataclass(frozen=True)
class Link:
    """The activation item a token's hash names, as read."""

    contact_id: str
    user_id: str
    job_id: str  # the job that created the User (counts its activations); "" for a link written before it was kept
    expires: float  # epoch seconds
    activated: bool
    sent_to: str = ""  # the address the link was sent to; "" for a link written before it was kept
    current: bool = True  # False: a link the user was sent before their newest one (replaced)
    renewed_at: float | None = None  # when the user last asked for a new link themselves (epoch seconds)

    def expired(self, now: float) -> bool:
        return self.expires <= now


@dataclass(frozen=True)
class PoolAccount:
    """What the activation page needs of a pool user."""

    username: str
    enabled: bool
    first_name: str
    status: str  # Cognito's UserStatus: FORCE_CHANGE_PASSWORD until a password is set
    contact_id: str  # custom:contact_id, the Contact the user is for

    @property
    def pending(self) -> bool:
        """Whether the user has never set a password: the only users a link may activate."""
        return self.status == "FORCE_CHANGE_PASSWORD"
