using System.Numerics.Tensors;
using LlmKit.Plugins.Ordinal.Heads;

namespace LlmKit.Plugins.Ordinal.Training;

/// <summary>
/// Per-column standardisation x' = (x − mean) · scale with scale = 1 / standard deviation, fitted on training
/// rows only so no statistic leaks from validation or test data. Columns with zero variance get scale 1.
/// </summary>
/// <remarks>Immutable; thread-safe.</remarks>
public sealed class FeatureStandardizer
{
    /// <summary>Creates a standardiser from known statistics.</summary>
    /// <param name="mean">Per-column means; copied.</param>
    /// <param name="scale">Per-column multipliers (1 / standard deviation), each finite and positive; copied.</param>
    /// <exception cref="ArgumentException">Lengths differ, are zero, or a value is not finite/positive.</exception>
    public FeatureStandardizer(ReadOnlySpan<float> mean, ReadOnlySpan<float> scale)
    {
        if (mean.IsEmpty)
        {
            throw new ArgumentException("At least one column is needed.", nameof(mean));
        }

        FeatureGuard.ThrowIfLengthMismatch(mean.Length, scale.Length, nameof(scale), "scales (one per mean)");
        FeatureGuard.ThrowIfNotFinite(mean, nameof(mean));
        FeatureGuard.ThrowIfNotFinite(scale, nameof(scale));
        for (int c = 0; c < scale.Length; c++)
        {
            if (!(scale[c] > 0f))
            {
                throw new ArgumentException($"Scale at column {c} is {scale[c]}; scales must be positive.", nameof(scale));
            }
        }

        MeanArray = mean.ToArray();
        ScaleArray = scale.ToArray();
    }

    /// <summary>Number of columns.</summary>
    public int Dimension => MeanArray.Length;

    /// <summary>Per-column means.</summary>
    public ReadOnlySpan<float> Mean => MeanArray;

    /// <summary>Per-column multipliers (1 / standard deviation).</summary>
    public ReadOnlySpan<float> Scale => ScaleArray;

    internal float[] MeanArray { get; }

    internal float[] ScaleArray { get; }

    /// <summary>Fits means and standard deviations (population) on the given rows of <paramref name="data"/>.</summary>
    /// <param name="data">The dataset.</param>
    /// <param name="rows">Indices of the training rows; null for all rows.</param>
    public static FeatureStandardizer Fit(OrdinalDataset data, IReadOnlyList<int>? rows = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        int count = rows?.Count ?? data.RowCount;
        if (count == 0)
        {
            throw new ArgumentException("Cannot fit a standardiser on zero rows.", nameof(rows));
        }

        int d = data.ColumnCount;
        // Accumulate in double: float sums of 100k squared values lose digits.
        var sum = new double[d];
        var sumSquares = new double[d];
        for (int i = 0; i < count; i++)
        {
            var row = data.GetRow(rows?[i] ?? i);
            for (int c = 0; c < d; c++)
            {
                double v = row[c];
                sum[c] += v;
                sumSquares[c] += v * v;
            }
        }

        var mean = new float[d];
        var scale = new float[d];
        for (int c = 0; c < d; c++)
        {
            double m = sum[c] / count;
            double variance = Math.Max(0.0, sumSquares[c] / count - m * m);
            double sd = Math.Sqrt(variance);
            mean[c] = (float)m;
            scale[c] = sd > 1e-12 * Math.Max(1.0, Math.Abs(m)) ? (float)(1.0 / sd) : 1f;
        }

        return new FeatureStandardizer(mean, scale);
    }

    /// <summary>Writes the standardised <paramref name="features"/> into <paramref name="destination"/> (may be the same memory).</summary>
    /// <exception cref="ArgumentException">A length differs from <see cref="Dimension"/>.</exception>
    public void Transform(ReadOnlySpan<float> features, Span<float> destination)
    {
        FeatureGuard.ThrowIfLengthMismatch(Dimension, features.Length, nameof(features));
        FeatureGuard.ThrowIfLengthMismatch(Dimension, destination.Length, nameof(destination));
        TransformUnchecked(features, destination);
    }

    internal void TransformUnchecked(ReadOnlySpan<float> features, Span<float> destination)
    {
        TensorPrimitives.Subtract(features, MeanArray, destination);
        TensorPrimitives.Multiply(destination, ScaleArray, destination);
    }
}
