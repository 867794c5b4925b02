"""The approval engine (R11–R16): requests, steps, tasks, decisions.

Modules, one concept each: ``submit`` (start a request), ``routing`` (which steps apply,
who approves, when a step is decided), ``lifecycle`` (open steps, advance, return,
finish), ``decide`` (decisions on tasks), ``withdraw``, ``edits`` (record writes while
pending, freezes), ``snapshot``, ``tasks`` (task rows and their SLA timers), ``timers``
(the SLA action), ``selectors`` (reads), ``errors``. :mod:`.services` gathers the public
entry points for other engines and the GraphQL layer.
"""
