"""Network architectures as plain torch modules (extra ``train``). Key layouts match the community checkpoints."""
