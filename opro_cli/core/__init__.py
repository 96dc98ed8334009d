"""Pure logic of OPRO: prompts, parsing, statistics and the optimization loop."""
