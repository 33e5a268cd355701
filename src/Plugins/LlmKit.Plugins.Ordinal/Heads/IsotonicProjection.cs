namespace LlmKit.Plugins.Ordinal.Heads;

/// <summary>Euclidean projection of a short vector onto the non-increasing cone by pool-adjacent-violators.</summary>
internal static class IsotonicProjection
{
    public static void NonIncreasing(Span<float> values)
    {
        int n = values.Length;
        bool ordered = true;
        for (int i = 1; i < n && ordered; i++)
        {
            ordered = values[i] <= values[i - 1];
        }

        if (ordered)
        {
            return;
        }

        // Blocks of pooled values: mean and size; a new value merges backwards while it breaks the order.
        Span<double> means = stackalloc double[n];
        Span<int> sizes = stackalloc int[n];
        int blocks = 0;
        for (int i = 0; i < n; i++)
        {
            means[blocks] = values[i];
            sizes[blocks] = 1;
            blocks++;
            while (blocks > 1 && means[blocks - 1] > means[blocks - 2])
            {
                int merged = sizes[blocks - 2] + sizes[blocks - 1];
                means[blocks - 2] = (means[blocks - 2] * sizes[blocks - 2] + means[blocks - 1] * sizes[blocks - 1]) / merged;
                sizes[blocks - 2] = merged;
                blocks--;
            }
        }

        int index = 0;
        for (int b = 0; b < blocks; b++)
        {
            for (int j = 0; j < sizes[b]; j++)
            {
                values[index++] = (float)means[b];
            }
        }
    }
}
