"""How checks judge: pure evaluators, the readers that observe clusters, polling, reporting."""
