"""Physics: processes, kinematics, cuts, phase space and exchange symmetry (pure numpy)."""
