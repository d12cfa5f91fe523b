"""Twilio's connection overrides (``#rc=3&rp=ct,rt,5xx`` on the webhook URL) do not break signatures.

A URL fragment is never sent in an HTTP request, and Twilio signs the URL without it; twilio's
RequestValidator signs exactly the string it is given (it strips nothing), so we validate the URL
the request reached, built from PAMINN_PUBLIC_URL, which can carry no fragment.
"""
from __future__ import annotations

from urllib.parse import urldefrag, urlencode

import pytest
from twilio.request_validator import RequestValidator

from bot.config import ConfigError, Settings
from tests.builders import ANNA, COORD, load, may_org
from tests.conftest import twiml_messages
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN

OVERRIDES = "#rc=3&rp=ct,rt,5xx"


async def post_as_twilio(h, configured_url: str, sid: str, body: str = "HJÄLP", sign_fragment: bool = False):
    """What Twilio does with the webhook URL configured in its console: sign it without the fragment
    and request it (the fragment stays on Twilio's side)."""
    params = {"MessageSid": sid, "From": ANNA, "To": "+46766860000", "Body": body, "AccountSid": ACCOUNT_SID}
    signed = configured_url if sign_fragment else urldefrag(configured_url).url
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               "X-Twilio-Signature": RequestValidator(AUTH_TOKEN).compute_signature(signed, params)}
    return await h.client.session.post(configured_url, data=urlencode(params), headers=headers)


@pytest.mark.parametrize("overrides", ["", OVERRIDES, "#rc=5&rp=all&tt=15000"])
async def test_a_webhook_url_with_or_without_connection_overrides_validates(harness, overrides):
    await load(harness, may_org())
    await harness.sms(COORD, "PÅMINN Anna maj")
    response = await post_as_twilio(harness, f"{harness.base}/webhooks/twilio/sms{overrides}", "SMfrag" + "0" * 28,
                                    body="OK")
    assert response.status == 200
    assert twiml_messages(await response.text()) == ["Tack! Vi har noterat att du sett påminnelsen för maj 2026."]


async def test_a_signature_over_the_fragment_is_not_twilios_and_is_refused(harness):
    response = await post_as_twilio(harness, f"{harness.base}/webhooks/twilio/sms{OVERRIDES}", "SMfrag" + "1" * 28,
                                    sign_fragment=True)
    assert response.status == 403
    assert await harness.scalar("SELECT count(*) FROM inbound") == 0


def test_a_public_url_with_a_fragment_or_query_is_refused_with_what_to_do():
    for bad in ("https://paminn.example.se#rc=3", "https://paminn.example.se/?x=1"):
        with pytest.raises(ConfigError, match="base URL.*webhooks/twilio/sms#rc=3&rp=ct,rt,5xx"):
            Settings.from_env({"PAMINN_PUBLIC_URL": bad})
