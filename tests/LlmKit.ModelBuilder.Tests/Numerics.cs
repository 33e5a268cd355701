namespace LlmKit.ModelBuilder.Tests;

internal static class Numerics
{
    /// <summary>Largest absolute element-wise difference; NaN if any element is NaN.</summary>
    public static float MaxAbsDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        Assert.Equal(a.Length, b.Length);
        float max = 0f;
        for (int i = 0; i < a.Length; i++)
        {
            float d = MathF.Abs(a[i] - b[i]);
            if (float.IsNaN(d))
            {
                return float.NaN;
            }

            max = MathF.Max(max, d);
        }

        return max;
    }

    public static int ArgMax(ReadOnlySpan<float> x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++)
        {
            if (x[i] > x[best])
            {
                best = i;
            }
        }

        return best;
    }
}
