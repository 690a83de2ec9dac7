"""The progressive rollout: controller (pure), ops against a target, the command line."""
