"""The rule language: the model of packs and rules, loading them from YAML, their errors,
their own tests, and packs as published to workers."""
