"""The control database: requests, their status history, action intents/results and receipts."""
