"""Reading what users have: outputs and multiple-choice tables, evaluation logs (lm-evaluation-
harness, Inspect, HELM, Every Eval Ever), model sizes; and scoring outputs against targets,
with the rate at which a wrong output matches a target by chance. ``sources.read_inputs`` is
the one front door every command uses."""
