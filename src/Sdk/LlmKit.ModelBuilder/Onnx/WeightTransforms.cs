namespace LlmKit.ModelBuilder.Onnx;

/// <summary>Layout changes between llama2.c tensors and ONNX initializers.</summary>
internal static class WeightTransforms
{
    /// <summary>Writes W [rows, cols] (row-major) as Wᵀ [cols, rows] into <paramref name="destination"/>.</summary>
    public static void Transpose(ReadOnlySpan<float> source, int rows, int cols, Span<float> destination)
    {
        if (source.Length != rows * cols || destination.Length != rows * cols)
        {
            throw new ArgumentException($"Expected {rows}x{cols} elements, got {source.Length} and {destination.Length}.");
        }

        // Tiled so both reads and writes stay within cache lines for large matrices.
        const int tile = 32;
        for (int r0 = 0; r0 < rows; r0 += tile)
        {
            int r1 = Math.Min(r0 + tile, rows);
            for (int c0 = 0; c0 < cols; c0 += tile)
            {
                int c1 = Math.Min(c0 + tile, cols);
                for (int r = r0; r < r1; r++)
                {
                    for (int c = c0; c < c1; c++)
                    {
                        destination[(c * rows) + r] = source[(r * cols) + c];
                    }
                }
            }
        }
    }

    /// <summary>
    /// RoPE tables [positions, head_size / 2] with llama2.c's frequencies: angle = pos · theta^(-2i/head_size),
    /// computed exactly as the reference computes them so the graph and the reference agree bit for bit.
    /// </summary>
    public static void RopeTable(Span<float> destination, int positions, int headSize, float theta, bool cosine) =>
        RopeTable(destination, positions, new RopeFrequencies(RopeScaling.Unscaled(headSize, theta), 1f), cosine);

    /// <summary>
    /// RoPE tables [positions, inverse.Length]: cos/sin(pos · inverse[i]) · attention factor, the same float operations
    /// as <see cref="LlamaReference"/>, so the graph and the reference agree bit for bit at every position.
    /// </summary>
    public static void RopeTable(Span<float> destination, int positions, RopeFrequencies frequencies, bool cosine)
    {
        float[] inverse = frequencies.Inverse;
        int half = inverse.Length;
        float scale = frequencies.AttentionFactor;
        for (int pos = 0; pos < positions; pos++)
        {
            for (int i = 0; i < half; i++)
            {
                float angle = pos * inverse[i];
                destination[(pos * half) + i] = (cosine ? MathF.Cos(angle) : MathF.Sin(angle)) * scale;
            }
        }
    }
}
