"""The control plane's security core: API tokens and roles, secrets, signatures, compliance."""
