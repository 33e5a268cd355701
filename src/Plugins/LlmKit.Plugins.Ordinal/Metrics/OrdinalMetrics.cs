namespace LlmKit.Plugins.Ordinal.Metrics;

/// <summary>
/// Standard metrics for ordinal predictions on ranks 0 … K−1. Every method takes the true and predicted ranks
/// of the same rows and throws <see cref="ArgumentException"/> when the lengths differ or are zero. Thread-safe.
/// </summary>
public static class OrdinalMetrics
{
    /// <summary>Mean absolute error in ranks: mean |y − ŷ|.</summary>
    public static double MeanAbsoluteError(ReadOnlySpan<int> actual, ReadOnlySpan<int> predicted)
    {
        Check(actual, predicted);
        long sum = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            sum += Math.Abs(actual[i] - predicted[i]);
        }

        return (double)sum / actual.Length;
    }

    /// <summary>Root mean squared error in ranks: √(mean (y − ŷ)²).</summary>
    public static double RootMeanSquaredError(ReadOnlySpan<int> actual, ReadOnlySpan<int> predicted)
    {
        Check(actual, predicted);
        long sum = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            long d = actual[i] - predicted[i];
            sum += d * d;
        }

        return Math.Sqrt((double)sum / actual.Length);
    }

    /// <summary>Fraction of rows predicted exactly.</summary>
    public static double Accuracy(ReadOnlySpan<int> actual, ReadOnlySpan<int> predicted) => WithinAccuracy(actual, predicted, 0);

    /// <summary>Fraction of rows predicted within one rank (|y − ŷ| ≤ 1).</summary>
    public static double OffByOneAccuracy(ReadOnlySpan<int> actual, ReadOnlySpan<int> predicted) => WithinAccuracy(actual, predicted, 1);

    /// <summary>
    /// The K × K confusion matrix: entry [i, j] counts rows with true rank i predicted as j.
    /// </summary>
    /// <param name="actual">True ranks.</param>
    /// <param name="predicted">Predicted ranks.</param>
    /// <param name="rankCount">K (at least 2); every rank must lie in 0 … K−1 (the message names the row otherwise).</param>
    public static int[,] ConfusionMatrix(ReadOnlySpan<int> actual, ReadOnlySpan<int> predicted, int rankCount)
    {
        Check(actual, predicted);
        ArgumentOutOfRangeException.ThrowIfLessThan(rankCount, 2);
        var matrix = new int[rankCount, rankCount];
        for (int i = 0; i < actual.Length; i++)
        {
            if ((uint)actual[i] >= (uint)rankCount)
            {
                throw new ArgumentException($"True rank at row {i} is {actual[i]}, outside 0 … {rankCount - 1}.", nameof(actual));
            }

            if ((uint)predicted[i] >= (uint)rankCount)
            {
                throw new ArgumentException($"Predicted rank at row {i} is {predicted[i]}, outside 0 … {rankCount - 1}.", nameof(predicted));
            }

            matrix[actual[i], predicted[i]]++;
        }

        return matrix;
    }

    /// <summary>
    /// Cohen's kappa with quadratic weights w_ij = (i − j)² / (K − 1)²: 1 − Σ w·O / Σ w·E, where O is the
    /// confusion matrix and E the outer product of its marginals divided by the row count. 1 is perfect
    /// agreement, 0 chance level. Returns NaN when it is undefined (both sides constant and equal: Σ w·E = 0).
    /// </summary>
    /// <param name="actual">True ranks.</param>
    /// <param name="predicted">Predicted ranks.</param>
    /// <param name="rankCount">K (at least 2).</param>
    public static double QuadraticWeightedKappa(ReadOnlySpan<int> actual, ReadOnlySpan<int> predicted, int rankCount)
    {
        var observed = ConfusionMatrix(actual, predicted, rankCount);
        var rowTotals = new double[rankCount];
        var columnTotals = new double[rankCount];
        for (int i = 0; i < rankCount; i++)
        {
            for (int j = 0; j < rankCount; j++)
            {
                rowTotals[i] += observed[i, j];
                columnTotals[j] += observed[i, j];
            }
        }

        double n = actual.Length;
        double scale = (rankCount - 1.0) * (rankCount - 1.0);
        double weightedObserved = 0;
        double weightedExpected = 0;
        for (int i = 0; i < rankCount; i++)
        {
            for (int j = 0; j < rankCount; j++)
            {
                double w = (i - j) * (i - j) / scale;
                weightedObserved += w * observed[i, j];
                weightedExpected += w * rowTotals[i] * columnTotals[j] / n;
            }
        }

        return weightedExpected == 0 ? double.NaN : 1.0 - weightedObserved / weightedExpected;
    }

    /// <summary>All metrics at once.</summary>
    /// <param name="actual">True ranks.</param>
    /// <param name="predicted">Predicted ranks.</param>
    /// <param name="rankCount">K (at least 2).</param>
    public static OrdinalEvaluation Evaluate(ReadOnlySpan<int> actual, ReadOnlySpan<int> predicted, int rankCount) => new(
        MeanAbsoluteError(actual, predicted),
        RootMeanSquaredError(actual, predicted),
        Accuracy(actual, predicted),
        OffByOneAccuracy(actual, predicted),
        QuadraticWeightedKappa(actual, predicted, rankCount),
        ConfusionMatrix(actual, predicted, rankCount));

    private static double WithinAccuracy(ReadOnlySpan<int> actual, ReadOnlySpan<int> predicted, int tolerance)
    {
        Check(actual, predicted);
        int hits = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            if (Math.Abs(actual[i] - predicted[i]) <= tolerance)
            {
                hits++;
            }
        }

        return (double)hits / actual.Length;
    }

    private static void Check(ReadOnlySpan<int> actual, ReadOnlySpan<int> predicted)
    {
        if (actual.IsEmpty)
        {
            throw new ArgumentException("At least one row is needed.", nameof(actual));
        }

        if (actual.Length != predicted.Length)
        {
            throw new ArgumentException($"Expected one prediction per row: {actual.Length} true ranks but {predicted.Length} predictions.", nameof(predicted));
        }
    }
}

/// <summary>All metrics of one evaluation.</summary>
/// <param name="MeanAbsoluteError">Mean |y − ŷ| in ranks.</param>
/// <param name="RootMeanSquaredError">√(mean (y − ŷ)²) in ranks.</param>
/// <param name="Accuracy">Fraction predicted exactly.</param>
/// <param name="OffByOneAccuracy">Fraction predicted within one rank.</param>
/// <param name="QuadraticWeightedKappa">Cohen's kappa with quadratic weights (NaN when undefined).</param>
/// <param name="ConfusionMatrix">Counts [true, predicted].</param>
public sealed record OrdinalEvaluation(
    double MeanAbsoluteError,
    double RootMeanSquaredError,
    double Accuracy,
    double OffByOneAccuracy,
    double QuadraticWeightedKappa,
    int[,] ConfusionMatrix);
