"""Gates a version passes before it moves up a channel: measured benchmarks and static policy checks."""
