"""The audit log: who changed what, for whom, with which outcome (design note 0014)."""
