"""The codec: a model's shared weights <-> quantization (codebook + indices) <-> a coded
``.wsb`` file (Huffman or per-tensor Huffman), and the merge-strategy contract."""
