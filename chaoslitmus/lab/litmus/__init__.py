"""The Litmus stand-in: the chaos-operator loop, its rules, results and fault sinks."""
