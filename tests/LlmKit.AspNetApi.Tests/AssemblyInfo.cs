// The disconnect test reads the process-wide "LlmKit" meter, and the machine has two cores: run tests one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
