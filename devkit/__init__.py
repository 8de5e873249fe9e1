"""Emojiboard's developer kit: the local stack, the Slack simulator and tooling.
Never shipped to Lambda."""
