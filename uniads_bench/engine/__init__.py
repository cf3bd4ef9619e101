"""Engine: train one candidate at one fidelity and score it; guards, teacher-output cache, cost model."""
