"""The task inbox: one list of a user's tasks of every kind (``selectors``) and bulk
decisions on approval tasks (``bulk``)."""
