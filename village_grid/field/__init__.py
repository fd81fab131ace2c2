"""The team lead in the field: the "my team" page that works offline, the phone's
queue synced through one idempotent API, signs of life per lead and task, and the
silent leads a cadre is shown and a grid member is asked to call."""
