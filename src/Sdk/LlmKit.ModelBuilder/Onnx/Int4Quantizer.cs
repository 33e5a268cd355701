namespace LlmKit.ModelBuilder.Onnx;

/// <summary>
/// Block-wise 4-bit quantisation in the layout of ONNX Runtime's MatMulNBits: for a weight W [N, K] (one row per
/// output feature, as llama2.c stores it), each row is cut into blocks of <see cref="BlockSize"/> along K (the last
/// block zero-padded); packed bytes [N, blocks, BlockSize / 2] hold two values each, low nibble first; scales
/// [N, blocks]; zero points (optional) [N, ceil(blocks / 2)], also low nibble first. Without zero points the
/// quantisation is symmetric around the implicit zero point 8.
/// </summary>
internal static class Int4Quantizer
{
    public const int BlockSize = 32;
    public const int BlobBytes = BlockSize / 2;

    public static int Blocks(int k) => (k + BlockSize - 1) / BlockSize;

    public static int ZeroPointBytesPerRow(int k) => (Blocks(k) + 1) / 2;

    /// <summary>Quantises <paramref name="weight"/> [n, k] into the three MatMulNBits tensors.</summary>
    public static void Quantize(ReadOnlySpan<float> weight, int n, int k, Span<byte> packed, Span<float> scales, Span<byte> zeroPoints, bool withZeroPoints)
    {
        int blocks = Blocks(k);
        Span<float> block = stackalloc float[BlockSize];
        for (int row = 0; row < n; row++)
        {
            ReadOnlySpan<float> w = weight.Slice(row * k, k);
            for (int b = 0; b < blocks; b++)
            {
                block.Clear();
                int start = b * BlockSize, count = Math.Min(BlockSize, k - start);
                w.Slice(start, count).CopyTo(block);
                var (scale, zeroPoint) = withZeroPoints ? Asymmetric(block) : Symmetric(block);
                scales[(row * blocks) + b] = scale;
                if (withZeroPoints)
                {
                    int at = (row * ZeroPointBytesPerRow(k)) + (b / 2);
                    zeroPoints[at] = (byte)(b % 2 == 0 ? (zeroPoints[at] & 0xF0) | zeroPoint : (zeroPoints[at] & 0x0F) | (zeroPoint << 4));
                }

                Span<byte> blob = packed.Slice(((row * blocks) + b) * BlobBytes, BlobBytes);
                for (int i = 0; i < BlockSize; i += 2)
                {
                    int q0 = Quantize(block[i], scale, zeroPoint), q1 = Quantize(block[i + 1], scale, zeroPoint);
                    blob[i / 2] = (byte)(q0 | (q1 << 4));
                }
            }
        }
    }

    /// <summary>The float weights [n, k] that the packed tensors represent (what MatMulNBits multiplies by).</summary>
    public static float[] Dequantize(ReadOnlySpan<byte> packed, ReadOnlySpan<float> scales, ReadOnlySpan<byte> zeroPoints, int n, int k)
    {
        int blocks = Blocks(k);
        var weight = new float[n * k];
        for (int row = 0; row < n; row++)
        {
            for (int col = 0; col < k; col++)
            {
                int b = col / BlockSize, i = col % BlockSize;
                byte pair = packed[(((row * blocks) + b) * BlobBytes) + (i / 2)];
                int q = i % 2 == 0 ? pair & 0x0F : pair >> 4;
                int zp = 8;
                if (!zeroPoints.IsEmpty)
                {
                    byte z = zeroPoints[(row * ZeroPointBytesPerRow(k)) + (b / 2)];
                    zp = b % 2 == 0 ? z & 0x0F : z >> 4;
                }

                weight[(row * k) + col] = (q - zp) * scales[(row * blocks) + b];
            }
        }

        return weight;
    }

    // The value of largest magnitude maps to -8, so the full signed range [-8, 7] is used (as ORT's quantiser does).
    private static (float Scale, int ZeroPoint) Symmetric(ReadOnlySpan<float> block)
    {
        float extreme = 0f;
        foreach (float v in block)
        {
            if (MathF.Abs(v) > MathF.Abs(extreme))
            {
                extreme = v;
            }
        }

        return (extreme / -8f, 8);
    }

    // The range [min(0, min), max(0, max)] maps onto [0, 15].
    private static (float Scale, int ZeroPoint) Asymmetric(ReadOnlySpan<float> block)
    {
        float min = 0f, max = 0f;
        foreach (float v in block)
        {
            min = MathF.Min(min, v);
            max = MathF.Max(max, v);
        }

        float scale = (max - min) / 15f;
        int zeroPoint = scale == 0f ? 0 : Math.Clamp((int)MathF.Round(-min / scale), 0, 15);
        return (scale, zeroPoint);
    }

    private static int Quantize(float value, float scale, int zeroPoint) =>
        scale == 0f ? zeroPoint : Math.Clamp((int)MathF.Round(value / scale) + zeroPoint, 0, 15);
}
