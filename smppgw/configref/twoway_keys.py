"""The ``[twoway]`` keys (``smppgw.twoway``): quiet hours and programmes."""

from __future__ import annotations

from smppgw.configref import Key as K

TWOWAY_KEYS = (
    K(path="twoway.keywords", type="table", default="{}", meaning="Keyword handling of inbound messages (STOP, HELP, ...)."),
    K(path="twoway.programmes", type="table", default="{}", meaning="Named programmes and their sender numbers."),
    K(path="twoway.programmes.<programme>", type="list of sender numbers", default="none", meaning="The senders of this programme (quiet hours and keywords apply per programme).", example=["12345"], example_name="reminders"),
    K(path="twoway.quiet_hours", type="list of tables", default="[]", meaning="Sending windows in the recipient's local time; a held message is `scheduled` for the next opening."),
    K(path="twoway.quiet_hours[].window", type='"HH:MM-HH:MM"', default="required", meaning="When messages may reach the recipient (an end before the start wraps midnight).", example="08:00-21:00"),
    K(path="twoway.quiet_hours[].days", type='list of "mon" .. "sun"', default="every day", meaning="The days the window applies to.", example=["mon", "tue", "wed", "thu", "fri"]),
    K(path="twoway.quiet_hours[].tags", type="list of strings, one at least", default='["marketing"]', meaning="Messages with one of these tags are held.", example=["marketing"]),
    K(path="twoway.quiet_hours[].exempt_tags", type="list of strings", default="[]", meaning="Messages with one of these tags are never held.", example=["otp"]),
    K(path="twoway.quiet_hours[].routes", type="list of route names", default="[] (with no programmes: every message)", meaning="The rule applies to these routes.", example=["uk"]),
    K(path="twoway.quiet_hours[].programmes", type="list of programme names", default="[]", meaning="The rule applies to the senders of these `[twoway.programmes]`.", example=["reminders"]),
    K(path="twoway.quiet_hours[].timezone", type="IANA time zone", default="the number's zones", meaning="The recipient's zone, whatever the number says.", example="Europe/London"),
    K(path="twoway.quiet_hours[].default_timezone", type="IANA time zone", default='"UTC"', meaning="The zone of a number whose zones are unknown.", example="UTC"),
)  # fmt: skip
