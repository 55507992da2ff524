"""HKT DSR orchestrator: the core (subjects, requests, policy, plans, the control database, the CLI)."""
