using System.Numerics.Tensors;

namespace LlmKit.Plugins.Ordinal.Heads;

/// <summary>Finite-value checks whose error messages say where the bad value is.</summary>
internal static class FeatureGuard
{
    /// <summary>Throws when a value is NaN or ±∞, naming the column (and the row when given).</summary>
    public static void ThrowIfNotFinite(ReadOnlySpan<float> values, string parameterName, int row = -1)
    {
        // A vectorised sum is finite for almost every valid row; only then is the slow per-column scan skipped.
        if (float.IsFinite(TensorPrimitives.Sum(values)))
        {
            return;
        }

        for (int column = 0; column < values.Length; column++)
        {
            if (!float.IsFinite(values[column]))
            {
                string where = row >= 0 ? $"row {row}, column {column}" : $"column {column}";
                throw new ArgumentException($"Feature at {where} is {values[column]}; features must be finite numbers.", parameterName);
            }
        }
    }

    public static void ThrowIfLengthMismatch(int expected, int actual, string parameterName, string what = "features")
    {
        if (expected != actual)
        {
            throw new ArgumentException($"Expected {expected} {what} but got {actual}.", parameterName);
        }
    }
}
