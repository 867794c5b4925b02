"""The stage engine (R7–R10): records move through the stages of their form's published
workflow only by transitions.

- :mod:`.definitions` — ``workflow_for(form)``, who may use a transition;
- :mod:`.initial` — the initial stage on create (``stage_before_insert``,
  ``enter_initial_stage``) and for existing records when a workflow is published
  (``initialize_existing_records``, the metadata publish hook);
- :mod:`.requirements` — ``missing_requirements``: what keeps a record in its stage;
- :mod:`.transitions` — ``available_transitions`` (and the batched form for a page);
- :mod:`.engine` — ``advance_stage`` and ``complete_transition``;
- :mod:`.timing` — ``stage_timing``, time limits and their timer rows;
- :mod:`.timers` — the ``stage.warning`` / ``stage.overdue`` timer actions;
- :mod:`.history` — ``stage_history`` and ``stage_stats``;
- :mod:`.errors` — ``WorkflowErrorCode`` and its zh-CN / en messages.

Nothing is imported here, so that record services can import :mod:`.initial` without
pulling in the engine (which imports them).
"""
