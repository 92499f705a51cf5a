"""The settings of single sign-on through an OpenID Connect provider (issue 21), declared apart
from the rest of `Settings`, which takes them in. Off unless the issuer, client id and secret and
Parley's public URL are all set; a configuration that is half there stops start-up with a sentence.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings

from chat.settings.reading import CommaList, split, variable

REQUIRED = ("PARLEY_OIDC_ISSUER", "PARLEY_OIDC_CLIENT_ID", "PARLEY_OIDC_CLIENT_SECRET", "PARLEY_PUBLIC_URL")
CALLBACK_PATH = "/signin/sso/callback"


class SingleSignOn(BaseSettings):
    """One field per variable, as in `Settings`."""

    oidc_issuer: str | None = Field(
        None,
        validation_alias="PARLEY_OIDC_ISSUER",
        description="The identity provider's issuer URL (its discovery document is under it); blank: no sign-on by it.",
    )
    oidc_client_id: str | None = Field(
        None, validation_alias="PARLEY_OIDC_CLIENT_ID", description="Parley's client id at the provider."
    )
    oidc_client_secret: SecretStr | None = Field(
        None, validation_alias="PARLEY_OIDC_CLIENT_SECRET", description="Parley's client secret at the provider."
    )
    oidc_scopes: str = Field(
        "openid email profile",
        validation_alias="PARLEY_OIDC_SCOPES",
        description="The scopes asked for, space-separated (openid among them).",
    )
    public_url: str | None = Field(
        None,
        validation_alias="PARLEY_PUBLIC_URL",
        description="The URL people reach Parley at (behind a proxy: the proxy's); the provider sends them back to "
        f"it, at {CALLBACK_PATH}.",
    )
    oidc_username_claim: str = Field(
        "email",
        validation_alias="PARLEY_OIDC_USERNAME_CLAIM",
        description="The claim that names the user in Parley (email: only a verified one).",
    )
    oidc_allowed_domains: CommaList = Field(
        (),
        validation_alias="PARLEY_OIDC_ALLOWED_DOMAINS",
        description="Email domains let in, comma-separated (a verified email required); blank: any.",
    )
    oidc_required_group: str | None = Field(
        None, validation_alias="PARLEY_OIDC_REQUIRED_GROUP", description="A group the user must be in; blank: none."
    )
    oidc_groups_claim: str = Field(
        "groups", validation_alias="PARLEY_OIDC_GROUPS_CLAIM", description="The claim that lists the user's groups."
    )
    oidc_admin_emails: CommaList = Field(
        (),
        validation_alias="PARLEY_OIDC_ADMIN_EMAILS",
        description="Verified emails that make an admin, comma-separated.",
    )
    oidc_admin_group: str | None = Field(
        None, validation_alias="PARLEY_OIDC_ADMIN_GROUP", description="A group whose members are admins; blank: none."
    )
    oidc_label: str = Field(
        "Sign in with single sign-on",
        validation_alias="PARLEY_OIDC_LABEL",
        description="The sign-in page's button, e.g. Sign in with Okta.",
    )
    password_signin: bool = Field(
        True,
        validation_alias="PARLEY_PASSWORD_SIGNIN",
        description="Whether the sign-in page still offers the password form (false needs single sign-on).",
    )
    oidc_link_accounts: bool = Field(
        False,
        validation_alias="PARLEY_OIDC_LINK_ACCOUNTS",
        description="Whether an identity whose username is an auth.yaml user's signs in as that user.",
    )

    @property
    def sso_enabled(self) -> bool:
        return self.oidc_issuer is not None

    @property
    def sso_redirect_uri(self) -> str:
        assert self.public_url is not None
        return self.public_url.rstrip("/") + CALLBACK_PATH

    @field_validator("oidc_allowed_domains", "oidc_admin_emails", mode="before")
    @classmethod
    def _lower_list(cls, value: object) -> object:
        entries = split(value) if isinstance(value, str) else value
        return (
            tuple(str(entry).strip().lower().lstrip("@") for entry in entries) if isinstance(entries, tuple) else value
        )

    @field_validator("oidc_issuer", "public_url")
    @classmethod
    def _web_address(cls, url: str | None, info: ValidationInfo) -> str | None:
        if url is not None and not _secure(url):
            raise ValueError(
                f"{variable(cls, info)} must be an https:// URL (http:// only on this machine's loopback), not {url!r}."
            )
        return url

    @field_validator("oidc_scopes")
    @classmethod
    def _openid(cls, scopes: str, info: ValidationInfo) -> str:
        if "openid" not in scopes.split():
            raise ValueError(f"{variable(cls, info)} must include openid, not {scopes!r}.")
        return " ".join(scopes.split())

    @model_validator(mode="after")
    def _whole(self) -> Any:
        values = (self.oidc_issuer, self.oidc_client_id, self.oidc_client_secret, self.public_url)
        given = dict(zip(REQUIRED, values, strict=True))
        if self.oidc_issuer is not None or self.oidc_client_id is not None or self.oidc_client_secret is not None:
            missing = [name for name, value in given.items() if value is None]
            if missing:
                raise ValueError(f"Single sign-on needs {', '.join(missing)} too (or none of its settings).")
        if not self.password_signin and self.oidc_issuer is None:
            raise ValueError("PARLEY_PASSWORD_SIGNIN=false leaves no way to sign in without single sign-on.")
        return self


def _secure(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return True
    if parts.scheme != "http" or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False
