"""The Twilio SMS gateway: the one module in Tandem that imports the `twilio` SDK."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Self

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import Gather, VoiceResponse

from notifications.sms import SendResult, SmsError, is_retryable_response

__all__ = [
    "TwilioSmsSender",
    "TwilioVoiceSender",
    "compute_twilio_signature",
    "messaging_response",
    "rewrite_twilio_url",
    "twilio_signature_valid",
    "voice_response",
]

# Every host the SDK talks to: api.twilio.com, messaging.twilio.com, and the regional and
# edge forms such as api.dublin.ie1.twilio.com. The lookahead stops a look-alike host
# (api.twilio.com.example.org) from matching.
_TWILIO_PREFIX = re.compile(
    r"^https://(?:[a-z0-9-]+\.)*twilio\.com(?::\d+)?(?=[/?#]|$)", re.IGNORECASE
)


def rewrite_twilio_url(url: str, *, api_base_url: str | None) -> str:
    """Point a `https://….twilio.com` URL at `api_base_url`, keeping path and query."""
    if api_base_url is None:
        return url
    return _TWILIO_PREFIX.sub(lambda _: api_base_url.rstrip("/"), url, count=1)


class _TandemHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """The SDK's HTTP client, redirected to a stand-in when asked, remembering the last reply."""

    def __init__(
        self,
        *,
        api_base_url: str | None,
        timeout: float,
        extra_headers: Mapping[str, str] | None,
    ) -> None:
        # max_retries=0: a resend is the outbox's decision (with back-off), never the transport's.
        super().__init__(timeout=timeout, max_retries=0)
        self._api_base_url = api_base_url
        self._extra_headers = dict(extra_headers or {})
        # Per thread, so one sender can serve several dispatcher threads.
        self._local = threading.local()

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Any:
        """Send one request through the SDK's machinery, after the URL rewrite."""
        self._local.headers = None
        merged = {**self._extra_headers, **(headers or {})}
        response = super().request(
            method,
            rewrite_twilio_url(url, api_base_url=self._api_base_url),
            params=params,
            data=data,
            headers=merged,
            auth=auth,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )
        self._local.headers = response.headers
        return response

    def last_header(self, name: str) -> str | None:
        """A header of the last response this thread received, if any."""
        headers = getattr(self._local, "headers", None)
        if not headers:
            return None
        wanted = name.lower()
        for key, value in headers.items():
            if str(key).lower() == wanted:
                return str(value)
        return None

    def close(self) -> None:
        """Release pooled connections."""
        if self.session is not None:
            self.session.close()


def _parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(seconds, 0.0)


class TwilioSmsSender:
    """Sends SMS through Twilio's Messages API; every failure comes out as SmsError."""

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        from_number: str | None = None,
        messaging_service_sid: str | None = None,
        api_base_url: str | None = None,
        timeout: float = 10.0,
        region: str | None = None,
        edge: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
        api_key_sid: str | None = None,
    ) -> None:
        # With an API key, ``auth_token`` is the key's secret and the SDK authenticates as
        # the key (Client(api_key, api_secret, account_sid)); the account's auth token is then
        # needed only to check webhook signatures.
        # api_base_url replaces every https://*.twilio.com host (a stand-in; None in
        # production). extra_headers go out with each request, under the SDK's own headers;
        # the contract tests use it for Prism's `Prefer`.
        if not from_number and not messaging_service_sid:
            raise ValueError("TwilioSmsSender needs from_number or messaging_service_sid")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._from_number = from_number or None
        self._messaging_service_sid = messaging_service_sid or None
        self._http = _TandemHttpClient(
            api_base_url=api_base_url, timeout=timeout, extra_headers=extra_headers
        )
        self._client = Client(
            username=api_key_sid or account_sid,
            password=auth_token,
            account_sid=account_sid,
            region=region,
            edge=edge,
            http_client=self._http,
        )
        # The SDK falls back to TWILIO_REGION / TWILIO_EDGE from os.environ when these are
        # None; settings are the only reader of the environment, so pin them to ours.
        self._client.region = region
        self._client.edge = edge

    def send(self, *, to: str, body: str, status_callback: str | None = None) -> SendResult:
        """Create one outbound message; raise SmsError saying whether a retry may help."""
        message = self._create(
            lambda: self._client.messages.create(
                to=to,
                body=body,
                from_=self._from_number,
                messaging_service_sid=self._messaging_service_sid,
                status_callback=status_callback,
            )
        )
        if not message.sid:
            raise SmsError("Twilio accepted the message but returned no SID", retryable=False)
        return SendResult(sid=str(message.sid), status=str(message.status or "unknown"))

    def call(self, *, to: str, twiml_url: str, status_callback: str | None) -> SendResult:
        """Place one call (Calls API) whose TwiML Twilio fetches from ``twiml_url``."""
        if not self._from_number:
            # A messaging service cannot place calls; retrying will not give it a number.
            raise SmsError("voice calls need TWILIO_FROM_NUMBER", retryable=False)
        call = self._create(
            lambda: self._client.calls.create(
                to=to,
                from_=self._from_number,
                url=twiml_url,
                method="POST",
                status_callback=status_callback,
                status_callback_method="POST",
            )
        )
        if not call.sid:
            raise SmsError("Twilio accepted the call but returned no SID", retryable=False)
        return SendResult(sid=str(call.sid), status=str(call.status or "unknown"))

    def _create(self, create: Callable[[], Any]) -> Any:
        """Run one SDK create call, turning every failure into an SmsError."""
        try:
            return create()
        except TwilioRestException as exc:
            raise self._http_error(status=exc.status, code=exc.code, detail=exc.msg) from exc
        except TwilioServiceException as exc:
            # The RFC 9457 error shape: same status/code semantics, different fields.
            detail = f"{exc.title}: {exc.detail}" if exc.detail else str(exc.title)
            raise self._http_error(status=exc.status, code=exc.code, detail=detail) from exc
        except (
            requests.ConnectionError,
            requests.Timeout,
            requests.exceptions.ChunkedEncodingError,
        ) as exc:
            # Nothing, or not all, came back: Twilio may or may not have the message, and
            # a duplicate reminder is better than a lost page.
            raise SmsError(
                f"Twilio unreachable: {type(exc).__name__}: {exc}", retryable=True
            ) from exc
        except TwilioException as exc:
            raise SmsError(f"Twilio SDK error: {exc}", retryable=False) from exc
        except Exception as exc:
            # Anything else (a malformed 2xx body, a bad URL) will not heal by itself, and the
            # outbox only understands SmsError.
            raise SmsError(
                f"unexpected error sending SMS: {type(exc).__name__}: {exc}", retryable=False
            ) from exc

    def _http_error(self, *, status: int, code: int | None, detail: str) -> SmsError:
        # Without a JSON error body the SDK reports the HTTP status as the code; that is not
        # a Twilio error code, so drop it rather than store a fake one.
        twilio_code = code if isinstance(code, int) and code != status else None
        retryable = is_retryable_response(http_status=status, code=twilio_code)
        retry_after = _parse_retry_after(self._http.last_header("Retry-After"))
        code_part = "" if twilio_code is None else f" ({twilio_code})"
        return SmsError(
            f"Twilio HTTP {status}{code_part}: {detail}",
            retryable=retryable,
            code=twilio_code,
            http_status=status,
            retry_after=retry_after if retryable else None,
        )

    def close(self) -> None:
        """Release the HTTP connection pool."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def twilio_signature_valid(
    *, auth_token: str, url: str, params: Mapping[str, str], signature: str | None
) -> bool:
    """Whether `signature` (X-Twilio-Signature) matches this URL and form as Twilio signs them."""
    if not signature:
        return False
    return bool(RequestValidator(auth_token).validate(url, params, signature))


def compute_twilio_signature(*, auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """The X-Twilio-Signature Twilio would send for this URL and form."""
    return str(RequestValidator(auth_token).compute_signature(url, params))


def messaging_response(text: str | None) -> str:
    """TwiML for a webhook reply: one <Message> with `text`, or an empty <Response>."""
    response = MessagingResponse()
    if text:
        response.message(text)
    return str(response.to_xml())


class TwilioVoiceSender:
    """The outbox's "voice" channel: each row is a call to its number through the Calls API.

    The row's body is what the call will say (kept for the record); Twilio fetches the
    actual TwiML from ``twiml_url`` when the call is answered.
    """

    def __init__(self, sender: TwilioSmsSender, *, twiml_url: str, status_callback: str) -> None:
        self._sender = sender
        self._twiml_url = twiml_url
        self._status_callback = status_callback

    def send(self, *, to: str, body: str, status_callback: str | None = None) -> SendResult:
        """Place the call; the status callback is always the voice one."""
        return self._sender.call(
            to=to, twiml_url=self._twiml_url, status_callback=self._status_callback
        )


def voice_response(*, say: str, gather_action: str | None = None, then: str | None = None) -> str:
    """TwiML for a call: ``say`` (inside a one-digit <Gather> when ``gather_action``), then
    ``then`` if nothing was pressed, then hang up."""
    response = VoiceResponse()
    if gather_action:
        gather = Gather(num_digits=1, action=gather_action, method="POST", timeout=10)
        gather.say(say)
        response.append(gather)
    else:
        response.say(say)
    if then:
        response.say(then)
    response.hangup()
    return str(response.to_xml())
