"""The policy a repository keeps for its gate: the policy file (config.py), findings accepted by
ignores or a baseline and severities overridden (gate.py), baselines (baseline.py).
"""
