"""Who owns a record: the public pool, claims and reassignment (R24, :mod:`.pool`) and
handing a person's records over to a successor (R25, :mod:`.handover`)."""
