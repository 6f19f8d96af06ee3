"""Pure evaluators: observed cluster state + scenario expectations -> a verdict. No I/O."""
