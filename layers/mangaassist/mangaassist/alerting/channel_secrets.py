"""Reads the Slack webhook URL and the PagerDuty routing key from Secrets Manager through Powertools Parameters.

Values are cached for max_age seconds, never logged and never returned in error texts. A secret that exists
but holds no value yet (the template creates them empty, operators fill them) reads as None: the relay skips
that channel with a warning instead of failing every alarm until someone notices.
"""

from __future__ import annotations

import logging

from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import ClientError

# botocore logs every response body at DEBUG, GetSecretValue's included: with Lambda's log level at DEBUG the
# webhook URL and routing key would land in CloudWatch Logs. Nothing the relay needs is logged there.
logging.getLogger("botocore.parsers").setLevel(logging.INFO)

# Secrets Manager answers this both for an unknown secret id and for a secret that has no value yet.
_NOT_SET = {"ResourceNotFoundException"}


class SecretUnavailableError(Exception):
    """The secret could not be read for a reason a retry may fix (throttling, access, network)."""

    def __init__(self, secret_id: str, code: str):
        super().__init__(f"secret {secret_id} could not be read ({code})")
        self.secret_id = secret_id
        self.code = code


def _error_code(err: BaseException) -> str:
    cause = err.__cause__ or err.__context__
    if isinstance(cause, ClientError):
        return str(cause.response.get("Error", {}).get("Code") or "ClientError")
    return type(cause).__name__ if cause else type(err).__name__


class SecretReader:
    def __init__(self, provider: SecretsProvider, max_age_s: int):
        self.provider = provider
        self.max_age_s = max_age_s

    def read(self, secret_id: str, force_fetch: bool = False) -> str | None:
        """The secret's value, or None when the id is unset or the secret holds nothing yet."""
        if not secret_id:
            return None
        try:
            value = self.provider.get(secret_id, max_age=self.max_age_s, force_fetch=force_fetch)
        except GetParameterError as err:
            code = _error_code(err)
            if code in _NOT_SET:
                return None
            raise SecretUnavailableError(secret_id, code) from None
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        text = str(value).strip() if value is not None else ""
        return text or None
