"""The chat: intent rules, the degradation policy, the flows and the API that serves them."""
