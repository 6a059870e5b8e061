"""The simulated camera fleet used by the demo, the tests and the benchmarks."""
