"""An HTTP API's JWT authorizer, as API Gateway applies it, over moto's Cognito: moto's CloudFormation skips every
AWS::ApiGatewayV2::* resource, so the runtime checks each guarded route's token itself.

As API Gateway does (developer guide, "Controlling access to HTTP APIs with JWT authorizers"): the token is the
identity source's value (the Authorization header, with or without "Bearer "); it must be a JWT signed by a key of
the issuer's JWKS (moto's Cognito signs every token with the one key of its jwks-public.json), issued by the
configured issuer, not expired, and for one of the configured audiences: its `aud` claim (an ID token), or else its
`client_id` (a Cognito access token). Anything else is answered 401 with {"message":"Unauthorized"}, and the
function is not invoked. The claims go to the function in requestContext.authorizer.jwt.claims.
"""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from moto.utilities.utils import load_resource

from portal_import_local.stack import JwtAuthorizer

UNAUTHORIZED = (401, {"content-type": "application/json", "www-authenticate": "Bearer"}, b'{"message":"Unauthorized"}')


@lru_cache(maxsize=1)
def _keys() -> KeySet:
    """moto's Cognito's public keys: what its /.well-known/jwks.json serves for every pool."""
    return KeySet.import_key_set(load_resource("cognitoidp/resources/jwks-public.json"))


def authorized_claims(
    authorization: str, authorizer: JwtAuthorizer, *, now: float | None = None
) -> dict[str, Any] | None:
    """The token's claims when the authorizer lets it through, else None."""
    token = authorization.strip()
    if token[:7].lower() == "bearer ":
        token = token[7:].strip()
    if not token:
        return None
    try:
        claims: dict[str, Any] = dict(jwt.decode(token, _keys(), algorithms=["RS256"]).claims)
    except (JoseError, ValueError):
        return None
    moment = time.time() if now is None else now
    if claims.get("iss") != authorizer.issuer or not isinstance(claims.get("exp"), int | float):
        return None
    if claims["exp"] <= moment or claims.get("nbf", 0) > moment:
        return None
    audience = claims.get("aud", claims.get("client_id"))
    audiences = audience if isinstance(audience, list) else [audience]
    return claims if any(a in authorizer.audiences for a in audiences) else None
