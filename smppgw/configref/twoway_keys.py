"""The ``[twoway]`` keys (``smppgw.twoway``): keywords, custom rules, consent and its
texts, programmes, quiet hours, flows."""

from __future__ import annotations

from smppgw.configref import Key as K

TWOWAY_KEYS = (
    K(path="twoway.threads", type="boolean", default="true", meaning="Keep a thread per (number, sender) pair for human responders (`/v1/threads`): made at the pair's first inbound text, a flow's handoff or an agent's reply, then every MT and MO message in it; an MT to a pair with no thread writes nothing more. false turns threads off.", example=True),
    K(path="twoway.thread_backfill", type="integer, 0..10000", default="100", meaning="When a pair's thread is made, its latest MT messages (at most this many) become its first entries, in order; 0: none.", example=100),
    K(path="twoway.thread_backfill_days", type="number of days, > 0 and <= 3650", default="30", meaning="And none older than this many days.", example=30),
    K(path="twoway.keywords", type="table", default="{}", meaning="How inbound texts are classified: opt-out (STOP), opt-in (START), HELP."),
    K(path="twoway.rule", type="list of tables", default="[]", meaning="Custom keyword or pattern rules, after the built-in keywords."),
    K(path="twoway.consent", type="table", default="see below", meaning="What a STOP covers and the words filled into the confirmations."),
    K(path="twoway.texts", type="table", default="see below", meaning="The texts of the STOP and START confirmations and the HELP answer."),
    K(path="twoway.programmes", type="table", default="{}", meaning="Named groups of senders (a programme's own STOP, texts, quiet hours, rules)."),
    K(path="twoway.programmes.<programme>", type="list of sender numbers (a name of 1-40 A-Z a-z 0-9 _ . -)", default="none", meaning="The senders of this programme; a sender is in one programme at most.", example=["12345"], example_name="reminders"),
    # [twoway.consent]
    K(path="twoway.consent.scope", type='"pair", "programme" or "account"', default='"pair"', meaning="What a plain STOP covers: the sender texted, its programme, or every sender.", example="pair"),
    K(path="twoway.consent.brand", type="string, 1..160 characters", default='"Our service"', meaning="`{brand}` in the texts.", example="Acme Dental"),
    K(path="twoway.consent.contact", type="string, 1..160 characters", default='"the number you signed up with"', meaning="`{contact}` in the texts.", example="help@acme.example"),
    K(path="twoway.consent.frequency", type="string, 1..160 characters", default='"Msg frequency varies"', meaning="`{frequency}` in the texts.", example="Up to 4 msgs/month"),
    # [twoway.texts]
    K(path="twoway.texts.opt_out", type="string, 1..640 characters; {brand} {contact} {frequency}", default="You are unsubscribed from {brand} messages. No more messages will be sent. Reply START to resubscribe.", meaning="The STOP confirmation.", example="You are unsubscribed from {brand}. Reply START to resubscribe."),
    K(path="twoway.texts.opt_in", type="as opt_out", default="{brand}: You are subscribed again. {frequency}. Msg&data rates may apply. Reply HELP for help, STOP to opt out.", meaning="The START confirmation.", example="{brand}: subscribed again. Reply STOP to opt out."),
    K(path="twoway.texts.help", type="as opt_out", default="{brand}: Help at {contact}. {frequency}. Msg&data rates may apply. Reply STOP to opt out.", meaning="The HELP answer.", example="{brand}: help at {contact}. {frequency}."),
    K(path="twoway.texts.<programme or sender>", type="table", default="the texts above", meaning="A programme's or a sender number's own texts (a sender's win over its programme's).", example_name="reminders"),
    K(path="twoway.texts.<programme or sender>.opt_out", type="as opt_out", default="`[twoway.texts] opt_out`", meaning="Its STOP confirmation.", example="Unsubscribed from {brand} reminders."),
    K(path="twoway.texts.<programme or sender>.opt_in", type="as opt_out", default="`[twoway.texts] opt_in`", meaning="Its START confirmation.", example="{brand} reminders again."),
    K(path="twoway.texts.<programme or sender>.help", type="as opt_out", default="`[twoway.texts] help`", meaning="Its HELP answer.", example="{brand} reminders: {contact}."),
    K(path="twoway.pool", type="list of tables", default="[]", meaning='Pools of long numbers a sender is picked from (`"from": "pool:NAME"`), so that each sender and recipient have one open conversation at most.'),
    K(path="twoway.pool[].name", type="1-32 of A-Z a-z 0-9 _ . -", default="required", meaning='The pool\'s name, for `"from": "pool:NAME"` and `[[route]] pool`.', example="care"),
    K(path="twoway.pool[].numbers", type="list of 1-1000 E.164 long numbers (8-15 digits, + optional)", default="required", meaning="The pool's senders; a number is in one pool at most.", example=["+447700900200", "+447700900201"]),
    K(path="twoway.quiet_hours", type="list of tables", default="[]", meaning="Sending windows in the recipient's local time; a held message is `scheduled` for the next opening."),
    K(path="twoway.quiet_hours[].window", type='"HH:MM-HH:MM"', default="required", meaning="When messages may reach the recipient (an end before the start wraps midnight).", example="08:00-21:00"),
    K(path="twoway.quiet_hours[].days", type='list of "mon" .. "sun"', default="every day", meaning="The days the window applies to.", example=["mon", "tue", "wed", "thu", "fri"]),
    K(path="twoway.quiet_hours[].tags", type="list of strings, one at least", default='["marketing"]', meaning="Messages with one of these tags are held.", example=["marketing"]),
    K(path="twoway.quiet_hours[].exempt_tags", type="list of strings", default="[]", meaning="Messages with one of these tags are never held.", example=["otp"]),
    K(path="twoway.quiet_hours[].routes", type="list of route names", default="[] (with no programmes: every message)", meaning="The rule applies to these routes.", example=["uk"]),
    K(path="twoway.quiet_hours[].programmes", type="list of programme names", default="[]", meaning="The rule applies to the senders of these `[twoway.programmes]`.", example=["reminders"]),
    K(path="twoway.quiet_hours[].timezone", type="IANA time zone", default="the number's zones", meaning="The recipient's zone, whatever the number says.", example="Europe/London"),
    K(path="twoway.quiet_hours[].default_timezone", type="IANA time zone", default='"UTC"', meaning="The zone of a number whose zones are unknown.", example="UTC"),
    # [twoway.keywords]
    K(path="twoway.keywords.matching", type='"strict", "standard" or "custom"', default='"standard"', meaning="The keyword alone; with polite words around it (and common misspellings); strict, then `patterns`.", example="custom"),
    K(path="twoway.keywords.languages", type='list of "en", "fr", "es", "de", "pt", "it", "nl"', default="all of them", meaning="The built-in word sets used.", example=["en", "es", "fr"]),
    K(path="twoway.keywords.opt_out", type="list of 1-4 words", default="[]", meaning="Words added to the opt-out set.", example=["STOPPROMO"]),
    K(path="twoway.keywords.opt_in", type="list of 1-4 words", default="[]", meaning='Words added to the opt-in set (`["YES"]`: YES opts in, before any conversation).', example=["YES"]),
    K(path="twoway.keywords.help", type="list of 1-4 words", default="[]", meaning="Words added to the help set.", example=["MENU"]),
    K(path="twoway.keywords.exclude", type="list of built-in words", default="[]", meaning="Built-in words taken out.", example=["END"]),
    K(path="twoway.keywords.patterns", type="list of regular expressions", default="[]", meaning='With `matching = "custom"`: matched against the folded text, each with a `(?P<keyword>...)` group (and optionally `(?P<argument>...)`).', example=[r"i (?:want|wish) to (?P<keyword>\w+)"]),
    # [[twoway.rule]]
    K(path="twoway.rule[].name", type="string, 1..64 characters", default="the keyword, upper case (required for a pattern)", meaning="Unique; in the `keyword.matched` event.", example="JOIN"),
    K(path="twoway.rule[].keyword", type="1-4 words", default="one of keyword, pattern", meaning="Matched as the built-in keywords are (not equal to one), with any one-word argument.", example="JOIN"),
    K(path="twoway.rule[].pattern", type="regular expression", default="one of keyword, pattern", meaning="Searched in the text, case-insensitive; a `(?P<argument>...)` group is the argument.", example=r"^WIN\s+(?P<argument>\d{4})$"),
    K(path="twoway.rule[].reply", type="string, 1..1600 characters", default="none", meaning="Sent back from the number texted (tagged `twoway`, `rule` and `tag`; subject to consent); with `voucher`, `{code}` in it is the code.", example="Welcome to Acme deals! Your code: {code}. Reply STOP to opt out."),
    K(path="twoway.rule[].tag", type="1-64 of A-Z a-z 0-9 _ . : -", default="none", meaning="On the reply and the event.", example="join"),
    K(path="twoway.rule[].event", type="boolean", default="false", meaning="Write a `keyword.matched` event.", example=True),
    K(path="twoway.rule[].senders", type="list of numbers, one at least", default="every number", meaning="Our numbers the rule applies to.", example=["+447700900100"]),
    K(path="twoway.rule[].programme", type="a `[twoway.programmes]` name", default="none", meaning="The rule applies to this programme's senders (not with `senders`).", example="reminders"),
    K(path="twoway.rule[].voucher", type="a pool name: 1-64 of A-Z a-z 0-9 _ . -", default="none", meaning="Reply with the number's code from this voucher pool (`POST /v1/vouchers/pools/{pool}`): the same code every time it asks, `{code}` in `reply` (default `Your code: {code}`).", example="SPRING"),
    K(path="twoway.rule[].exhausted", type="string, 1..1600 characters", default="Sorry, there are no codes left.", meaning="The reply when the rule's `voucher` pool has no code left (only with `voucher`).", example="Sorry, all our spring codes are gone."),
    # [[twoway.flow]] (twoway.flow_config; a flow's full format: docs/flow.schema.json)
    K(path="twoway.flows_dir", type="directory", default="none", meaning="A directory of flow files (`*.toml`, one flow each, as in `examples/flows/`), relative to the config file; loaded after `[[twoway.flow]]`.", example="."),
    K(path="twoway.flow", type="list of tables", default="[]", meaning="Flows: dialogues of several steps (a choice from a list, a number, a time slot, free text), with re-prompts, timeouts, timers, events, vouchers and hand-off to a human. The format: `docs/flows.md` and its JSON Schema `docs/flow.schema.json` (the same as `PUT /v1/flows/{name}`); examples in `examples/flows/`. A bad flow stops the start naming the key (`twoway.flow[0].steps.confirm.on.2: no step 'x'`)."),
    K(path="twoway.flow[].name", type="1-64 of A-Z a-z 0-9 _ . - (a letter or digit first)", default="required", meaning="Unique among the flows (`/v1/flows/{name}`).", example="booking"),
    K(path="twoway.flow[].description", type="string, at most 500 characters", default='""', meaning="What it is for.", example="Book an appointment"),
    K(path="twoway.flow[].keywords", type="list of 1-3 words (letters, digits), at most 10", default="[]", meaning="A text starting with one of them starts the flow (one active run per number and sender); `HELP` makes it the triage flow, instead of the HELP answer. Not an opt-out or opt-in word, a `[[twoway.rule]]` keyword or another flow's.", example=["BOOK"]),
    K(path="twoway.flow[].campaign", type="1-64 of A-Z a-z 0-9 _ . -", default="none", meaning="The campaign of the vouchers it issues and of its events.", example="bookings"),
    K(path="twoway.flow[].start", type="a step's name", default="the first step written", meaning="Where a run starts.", example="pick"),
    K(path="twoway.flow[].vars", type="table", default="{}", meaning="The vars a run knows before any answer (`{clinic}` in a text), with their defaults; the API's `vars` of a run win. A `{var}` no step sets and not here is refused."),
    K(path="twoway.flow[].vars.<var>", type="string (or list of strings, joined with commas), a name of a-z 0-9 _", default="none", meaning="The default value of `{var}`.", example="Acme Dental", example_name="clinic"),
    K(path="twoway.flow[].steps", type="table", default="required", meaning="The steps by name (1-50): `prompt`, `expect` (`choice` with `options`, `number` with `min`/`max`, `slot` with `slots`, `text`, `none`), `var`, `on`, `next`, `reprompt`, `attempts`, `timeout`, `on_timeout`, `on_invalid`, `actions` (`send`, `emit`, `handoff`, `voucher`, `end`, `goto`); see `docs/flows.md`. Unreachable steps, unknown targets, cycles with no way out and unknown vars are refused."),
    K(path="twoway.flow[].steps.<step>", type="table (1-32 of A-Z a-z 0-9 _ -)", default="none", meaning="One step; its keys in `docs/flows.md`.", example={"prompt": "{clinic}: reply with the number of a time:\n{options}", "expect": "slot", "slots": ["2027-03-15T09:30:00+00:00", "2027-03-16T11:00:00+00:00"], "var": "slot"}, example_name="pick"),
)  # fmt: skip
