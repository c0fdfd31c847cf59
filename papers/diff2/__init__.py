"""DIFF2: Differential Private Optimization via Gradient Differences (Murata & Suzuki, 2023)."""
