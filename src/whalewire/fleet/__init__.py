"""The fleet: whalewire's roles across machines over NATS (sensor, executor, control).

``wire`` is the versioned message schema, ``config`` the ``[fleet]`` table, ``sensor`` and
``executor`` the two roles, ``control`` the control heartbeat and the commands,
``operator`` the operator's survey and acknowledged kill/resume (every front end's), ``view``
and ``web`` the fleet's terminal and web dashboards. The fleet composes the engine
through a narrow façade (``on_alert``, ``kill``, ``status`` and ``engine.runner.build``);
the engine knows nothing of the fleet (DESIGN.md).
"""
