"""Learning Rates as a Function of Batch Size: A Random Matrix Theory Approach to Neural Network
Training (Granziol, Zohren, Roberts; arXiv 2006.09092)."""
