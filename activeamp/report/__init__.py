"""Report: figures with units (Δ and pull distributions, kinematics with bands, learning curves)."""
